import { Admin, CustomRoutes, Resource } from 'react-admin';
import { Route } from 'react-router-dom';
import { iconOf } from './icons';
import { Layout } from './layout/Layout';
import { LoginPage } from './login/LoginPage';
import { lazyPage } from './lazyPage';
import { authProvider } from './providers/authProvider';
import { dataProvider } from './providers/dataProvider';
import type { AdminResource, AdminSchema } from './schema';
import { darkTheme, lightTheme } from './theme';

// Each page in a chunk of its own, fetched on first visit (the login page needs none of them).
const Dashboard = lazyPage(() => import('./pages/Dashboard'), 'Dashboard');
const JobsPage = lazyPage(() => import('./pages/JobsPage'), 'JobsPage');
const ResourceCreate = lazyPage(() => import('./resources/ResourceCreate'), 'ResourceCreate');
const ResourceEdit = lazyPage(() => import('./resources/ResourceEdit'), 'ResourceEdit');
const ResourceList = lazyPage(() => import('./resources/ResourceList'), 'ResourceList');
const ResourceShow = lazyPage(() => import('./resources/ResourceShow'), 'ResourceShow');
const TrashList = lazyPage(() => import('./resources/TrashList'), 'TrashList');

function resourceFor(resource: AdminResource) {
  const writable = !resource.readOnly;
  return (
    <Resource
      key={resource.path}
      name={resource.path}
      options={{ label: resource.label, schema: resource }}
      icon={iconOf(resource.icon)}
      recordRepresentation={resource.titleField}
      list={ResourceList}
      show={ResourceShow}
      edit={writable && resource.permissions.change ? ResourceEdit : undefined}
      create={writable && resource.permissions.add ? ResourceCreate : undefined}
    >
      {resource.softDelete && <Route path="trash" element={<TrashList />} />}
    </Resource>
  );
}

/** The whole admin, generated from the schema the signed-in user gets (authProvider.getPermissions). */
export function App() {
  return (
    <Admin
      title="Nestor admin"
      authProvider={authProvider}
      dataProvider={dataProvider}
      loginPage={LoginPage}
      dashboard={Dashboard}
      layout={Layout}
      lightTheme={lightTheme}
      darkTheme={darkTheme}
      requireAuth
      disableTelemetry
    >
      {(schema: AdminSchema | undefined) => (
        <>
          {(schema?.resources ?? []).filter((resource) => resource.permissions.view).map(resourceFor)}
          <CustomRoutes>
            <Route path="/jobs" element={<JobsPage />} />
          </CustomRoutes>
        </>
      )}
    </Admin>
  );
}
