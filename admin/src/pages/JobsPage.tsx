import {
  Alert,
  Box,
  Card,
  CardHeader,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
} from '@mui/material';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Button, Loading, Title, useDataProvider } from 'react-admin';
import type { NestorDataProvider } from '../providers/dataProvider';
import type { JobCounts } from '../providers/types';
import { FailedJobs } from './FailedJobs';

const COUNTS: (keyof JobCounts)[] = ['waiting', 'active', 'delayed', 'completed', 'failed'];

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

/** `/admin/api/jobs`: queues with their counts, failed jobs (retry, remove) and schedules. */
export function JobsPage() {
  const dataProvider = useDataProvider<NestorDataProvider>();
  const [selected, setSelected] = useState<string | null>(null);
  const queues = useQuery({
    queryKey: ['jobs', 'queues'],
    queryFn: () => dataProvider.jobQueues(),
    refetchInterval: 5000,
  });
  const schedules = useQuery({ queryKey: ['jobs', 'schedules'], queryFn: () => dataProvider.jobSchedules() });
  if (queues.isPending) {
    return <Loading />;
  }
  if (queues.error) {
    return <Alert severity="error">Could not load the job queues: {queues.error.message}</Alert>;
  }
  return (
    <Box sx={{ display: 'grid', gap: 2, mt: 2 }}>
      <Title title="Jobs" />
      <Card component="section">
        <CardHeader title="Queues" slotProps={{ title: { component: 'h2', variant: 'h6' } }} />
        <TableContainer>
          <Table size="small" aria-label="Job queues">
            <TableHead>
              <TableRow>
                <TableCell>Queue</TableCell>
                {COUNTS.map((state) => (
                  <TableCell key={state} align="right">
                    {state}
                  </TableCell>
                ))}
                <TableCell>Schedule</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {queues.data.map((queue) => (
                <TableRow key={queue.name} selected={queue.name === selected}>
                  <TableCell component="th" scope="row">
                    {queue.name}
                  </TableCell>
                  {COUNTS.map((state) => (
                    <TableCell key={state} align="right">
                      {state === 'failed' && queue.counts.failed > 0 ? (
                        <Button
                          label={String(queue.counts.failed)}
                          color="error"
                          aria-label={`Show the ${queue.counts.failed} failed jobs of ${queue.name}`}
                          onClick={() => setSelected(queue.name)}
                        />
                      ) : (
                        queue.counts[state]
                      )}
                    </TableCell>
                  ))}
                  <TableCell>
                    {queue.schedule ? `${queue.schedule.cron} (next ${when(queue.schedule.next)})` : '—'}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </TableContainer>
      </Card>
      {selected && <FailedJobs queue={selected} />}
      <Card component="section">
        <CardHeader title="Schedules" slotProps={{ title: { component: 'h2', variant: 'h6' } }} />
        <TableContainer>
          <Table size="small" aria-label="Schedules">
            <TableHead>
              <TableRow>
                <TableCell>Job</TableCell>
                <TableCell>Cron</TableCell>
                <TableCell>Next run</TableCell>
                <TableCell>State</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {(schedules.data ?? []).map((schedule) => (
                <TableRow key={schedule.key}>
                  <TableCell component="th" scope="row">
                    {schedule.name}
                  </TableCell>
                  <TableCell>
                    <code>{schedule.cron}</code>
                  </TableCell>
                  <TableCell>{when(schedule.next)}</TableCell>
                  <TableCell>
                    {!schedule.declared
                      ? 'left over (removed at the next worker start)'
                      : schedule.registered
                        ? 'registered'
                        : 'waiting for a worker'}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </TableContainer>
      </Card>
    </Box>
  );
}
