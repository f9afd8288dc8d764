import { type Identifier, type RaRecord, useGetManyAggregate } from 'react-admin';
import type { AdminResource } from '../schema';
import { toText } from '../text';

export interface RecordLabels {
  /** The record's title ("Kitchen"), or undefined: not loaded (yet), gone, or nothing to name it by. */
  labelOf: (id: unknown) => string | undefined;
  /** The lookup has answered: an id it did not return is a record that no longer exists. */
  settled: boolean;
}

/**
 * Names records of `target` by their title field ("Kitchen" for category 6). Every caller on a page shares
 * one request per resource (react-admin batches these lookups into one getMany). Nothing is asked for a
 * resource this user may not view, or one whose title is its id (an order is named "#12" anyway).
 */
export function useRecordLabels(target: AdminResource | undefined, ids: readonly unknown[]): RecordLabels {
  const title = target && target.titleField !== target.primaryKey ? target.titleField : undefined;
  const wanted =
    title && target?.permissions.view
      ? ids.filter((id): id is Identifier => typeof id === 'number' || (typeof id === 'string' && id !== ''))
      : [];
  const { data, isSuccess } = useGetManyAggregate<RaRecord & Record<string, unknown>>(
    target?.path ?? '',
    { ids: wanted },
    { enabled: wanted.length > 0 },
  );
  return {
    labelOf: (id) => {
      const record = data?.find((row) => String(row.id) === String(id));
      return (record && title && toText(record[title])) || undefined;
    },
    settled: wanted.length > 0 && isSuccess,
  };
}
