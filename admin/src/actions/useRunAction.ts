import { type HttpError, type Identifier, useDataProvider, useNotify, useRefresh } from 'react-admin';
import type { NestorDataProvider } from '../providers/dataProvider';
import type { AdminAction, AdminResource } from '../schema';
import { waitForJob } from './waitForJob';

/**
 * Runs a custom action on some ids. A plain action notifies its message; a job action (202) notifies
 * "started", then follows the job until it finishes. Returns field errors of the input form, if any.
 */
export function useRunAction(resource: AdminResource, action: AdminAction) {
  const dataProvider = useDataProvider<NestorDataProvider>();
  const notify = useNotify();
  const refresh = useRefresh();

  return async (
    ids: Identifier[],
    input?: Record<string, unknown>,
  ): Promise<Record<string, unknown> | undefined> => {
    try {
      const result = await dataProvider.runAction(resource.path, action.name, ids, input);
      if (result.status === 'done') {
        notify(result.message || `${action.label}: ${result.affected} affected`, {
          type: 'success',
        });
        refresh();
        return undefined;
      }
      notify(`${action.label} started (job ${result.jobId})`, { type: 'info' });
      const { queue, jobId } = result;
      void waitForJob(dataProvider, queue, jobId).then(
        (outcome) => {
          if (outcome.state === 'completed') {
            notify(`${action.label} finished`, { type: 'success' });
            refresh();
          } else if (outcome.state === 'failed') {
            notify(`${action.label} failed: ${outcome.failedReason ?? 'see the Jobs page'}`, {
              type: 'error',
            });
          } else {
            notify(`${action.label} is still running; see the Jobs page`, { type: 'warning' });
          }
        },
        (error: Error) => notify(`Could not follow ${action.label}: ${error.message}`, { type: 'warning' }),
      );
      return undefined;
    } catch (error) {
      const httpError = error as HttpError;
      notify(httpError.message, { type: 'error' });
      return (httpError.body as { errors?: Record<string, unknown> } | undefined)?.errors;
    }
  };
}
