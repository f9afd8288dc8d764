import {
  Alert,
  Box,
  Card,
  CardActionArea,
  CardContent,
  CardHeader,
  List as MuiList,
  ListItem,
  ListItemText,
  Typography,
} from '@mui/material';
import { useQuery } from '@tanstack/react-query';
import { Link, Loading, RecordContextProvider, Title, useDataProvider } from 'react-admin';
import { iconOf } from '../icons';
import type { NestorDataProvider } from '../providers/dataProvider';
import { AuditRecordField, operationText } from '../resources/ChangesField';
import { findResource } from '../schema';
import { useSchema } from '../useSchema';

/** Counts per resource, the latest audited changes and the job queues at a glance. */
export function Dashboard() {
  const dataProvider = useDataProvider<NestorDataProvider>();
  const schema = useSchema();
  const { data, error, isPending } = useQuery({
    queryKey: ['admin', 'dashboard'],
    queryFn: () => dataProvider.dashboard(),
  });
  if (isPending) {
    return <Loading />;
  }
  if (error) {
    return <Alert severity="error">Could not load the dashboard: {error.message}</Alert>;
  }
  return (
    <Box sx={{ display: 'grid', gap: 2, mt: 2 }}>
      <Title title="Dashboard" />
      <Box
        component="section"
        aria-label="Resources"
        sx={{ display: 'grid', gap: 2, gridTemplateColumns: 'repeat(auto-fill, minmax(160px, 1fr))' }}
      >
        {Object.entries(data.counts).map(([path, count]) => {
          const resource = findResource(schema, path);
          const Icon = iconOf(resource?.icon);
          return (
            <Card key={path}>
              <CardActionArea component={Link} to={`/${path}`}>
                <CardContent>
                  <Box sx={{ display: 'flex', alignItems: 'center', gap: 1 }}>
                    <Icon fontSize="small" color="action" aria-hidden />
                    <Typography variant="overline" component="h2" sx={{ lineHeight: 1.6 }}>
                      {resource?.label ?? path}
                    </Typography>
                  </Box>
                  <Typography variant="h4" component="p">
                    {count.toLocaleString()}
                  </Typography>
                </CardContent>
              </CardActionArea>
            </Card>
          );
        })}
      </Box>
      <Box sx={{ display: 'grid', gap: 2, gridTemplateColumns: { xs: '1fr', md: '2fr 1fr' } }}>
        <Card component="section">
          <CardHeader title="Recent actions" slotProps={{ title: { component: 'h2', variant: 'h6' } }} />
          <MuiList dense>
            {data.recent.length === 0 && (
              <ListItem>
                <ListItemText primary="Nothing yet." />
              </ListItem>
            )}
            {data.recent.map((entry) => (
              <RecordContextProvider key={entry.id} value={entry}>
                <ListItem>
                  <ListItemText
                    primary={
                      <>
                        {operationText(entry)} <AuditRecordField />
                      </>
                    }
                    secondary={`${entry.actorEmail ?? 'system'} · ${new Date(entry.at).toLocaleString()}`}
                  />
                </ListItem>
              </RecordContextProvider>
            ))}
          </MuiList>
        </Card>
        <Card component="section">
          <CardHeader title="Jobs" slotProps={{ title: { component: 'h2', variant: 'h6' } }} />
          <CardContent>
            <Typography color={data.jobs.failed > 0 ? 'error' : undefined}>
              Failed: {data.jobs.failed}
            </Typography>
            <Typography>Waiting: {data.jobs.waiting}</Typography>
            <Typography>Active: {data.jobs.active}</Typography>
            <Box sx={{ mt: 1 }}>
              <Link to="/jobs">Open the job queues</Link>
            </Box>
          </CardContent>
        </Card>
      </Box>
    </Box>
  );
}
