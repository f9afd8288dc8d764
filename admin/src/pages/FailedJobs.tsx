import DeleteIcon from '@mui/icons-material/Delete';
import ReplayIcon from '@mui/icons-material/Replay';
import { Alert, Box, Card, CardActions, CardContent, CardHeader, Typography } from '@mui/material';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Button, Confirm, Loading, useDataProvider, useNotify } from 'react-admin';
import { JsonValue } from '../resources/fields';
import type { NestorDataProvider } from '../providers/dataProvider';
import type { Job } from '../providers/types';

function FailedJob({ queue, job }: { queue: string; job: Job }) {
  const dataProvider = useDataProvider<NestorDataProvider>();
  const queryClient = useQueryClient();
  const notify = useNotify();
  const [confirming, setConfirming] = useState(false);
  const done = (message: string) => {
    notify(message, { type: 'success' });
    return queryClient.invalidateQueries({ queryKey: ['jobs'] });
  };
  const failed = (error: Error) => notify(error.message, { type: 'error' });
  const retry = useMutation({
    mutationFn: () => dataProvider.retryJob(queue, job.id),
    onSuccess: () => done(`Job ${job.id} is waiting again`),
    onError: failed,
  });
  const remove = useMutation({
    mutationFn: () => dataProvider.removeJob(queue, job.id),
    onSuccess: () => done(`Job ${job.id} removed`),
    onError: failed,
  });
  return (
    <Card variant="outlined" component="article">
      <CardHeader
        title={`Job ${job.id}`}
        subheader={`created ${new Date(job.createdAt).toLocaleString()} · attempts ${job.attempts}/${job.maxAttempts}`}
        slotProps={{ title: { component: 'h3', variant: 'subtitle1' } }}
      />
      <CardContent sx={{ display: 'grid', gap: 1 }}>
        <Alert severity="error" sx={{ wordBreak: 'break-word' }}>
          {job.failedReason ?? 'No reason recorded'}
        </Alert>
        <Typography variant="subtitle2" component="h4">
          Payload
        </Typography>
        <JsonValue value={job.payload} />
        {job.stacktrace.length > 0 && (
          <details>
            <summary>Stack trace</summary>
            <pre style={{ whiteSpace: 'pre-wrap', fontSize: '0.75rem' }}>{job.stacktrace.join('\n\n')}</pre>
          </details>
        )}
      </CardContent>
      <CardActions>
        <Button label="Retry" disabled={retry.isPending} onClick={() => retry.mutate()}>
          <ReplayIcon />
        </Button>
        <Button label="Remove" color="error" disabled={remove.isPending} onClick={() => setConfirming(true)}>
          <DeleteIcon />
        </Button>
        <Confirm
          isOpen={confirming}
          loading={remove.isPending}
          title={`Remove job ${job.id}?`}
          content="The job and its error are deleted; it will not run again."
          onConfirm={() => {
            setConfirming(false);
            remove.mutate();
          }}
          onClose={() => setConfirming(false)}
        />
      </CardActions>
    </Card>
  );
}

/** The failed jobs of one queue, newest first, with their error and payload. */
export function FailedJobs({ queue }: { queue: string }) {
  const dataProvider = useDataProvider<NestorDataProvider>();
  const { data, error, isPending } = useQuery({
    queryKey: ['jobs', 'failed', queue],
    queryFn: () => dataProvider.jobs(queue, 'failed', 50),
  });
  if (isPending) {
    return <Loading />;
  }
  if (error) {
    return <Alert severity="error">{error.message}</Alert>;
  }
  return (
    <Box component="section" aria-label={`Failed jobs of ${queue}`} sx={{ display: 'grid', gap: 2 }}>
      <Typography variant="h6" component="h2">
        Failed jobs of {queue} ({data.total})
      </Typography>
      {data.items.length === 0 && <Typography>No failed job.</Typography>}
      {data.items.map((job) => (
        <FailedJob key={job.id} queue={queue} job={job} />
      ))}
      {data.total > data.items.length && (
        <Typography variant="body2">Showing the newest {data.items.length}.</Typography>
      )}
    </Box>
  );
}
