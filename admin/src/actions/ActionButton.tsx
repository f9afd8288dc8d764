import PlayArrowIcon from '@mui/icons-material/PlayArrow';
import { Dialog, DialogActions, DialogContent, DialogContentText, DialogTitle } from '@mui/material';
import { useId, useState } from 'react';
import { Button, Form, type Identifier, useCanAccess } from 'react-admin';
import { inputFor } from '../resources/inputs';
import type { AdminAction, AdminResource, AdminSchema } from '../schema';
import { useRunAction } from './useRunAction';

interface ActionButtonProps {
  schema: AdminSchema;
  resource: AdminResource;
  action: AdminAction;
  ids: Identifier[];
  onDone?: () => void;
}

/** One custom action: a button, then (if it has input or a confirmation) a dialog, then the request. */
export function ActionButton({ schema, resource, action, ids, onDone }: ActionButtonProps) {
  const { canAccess } = useCanAccess({ resource: resource.path, action: `action:${action.name}` });
  const [open, setOpen] = useState(false);
  const [running, setRunning] = useState(false);
  const run = useRunAction(resource, action);
  const titleId = useId();

  if (!canAccess) {
    return null;
  }

  const submit = async (values?: Record<string, unknown>) => {
    setRunning(true);
    const input = action.input
      ? Object.fromEntries(action.input.map((field) => [field.name, values?.[field.name] ?? null]))
      : undefined;
    const errors = await run(ids, input);
    setRunning(false);
    if (!errors) {
      setOpen(false);
      onDone?.();
    }
    return errors;
  };

  const asks = action.confirm !== null || (action.input?.length ?? 0) > 0;
  return (
    <>
      <Button
        label={action.label}
        disabled={running || ids.length === 0}
        onClick={() => (asks ? setOpen(true) : void submit())}
      >
        <PlayArrowIcon />
      </Button>
      <Dialog open={open} onClose={() => setOpen(false)} aria-labelledby={titleId} fullWidth maxWidth="sm">
        {/* Its own empty record: inside a show or edit page the form would otherwise start from that record. */}
        <Form onSubmit={submit} record={{}} noValidate>
          <DialogTitle id={titleId}>
            {action.label} ({ids.length} {ids.length === 1 ? resource.labelSingular : resource.label})
          </DialogTitle>
          <DialogContent>
            {action.confirm && <DialogContentText>{action.confirm}</DialogContentText>}
            {action.input?.map((field) => (
              <div key={field.name}>{inputFor(field, schema, 'create')}</div>
            ))}
          </DialogContent>
          <DialogActions>
            <Button label="ra.action.cancel" onClick={() => setOpen(false)} />
            <Button type="submit" variant="contained" label={action.label} disabled={running}>
              <PlayArrowIcon />
            </Button>
          </DialogActions>
        </Form>
      </Dialog>
    </>
  );
}
