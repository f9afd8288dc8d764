import { Admin, CustomRoutes, Resource } from 'react-admin';
import { Route } from 'react-router-dom';
import { iconOf } from './icons';
import { Layout } from './layout/Layout';
import { LoginPage } from './login/LoginPage';
import { Dashboard } from './pages/Dashboard';
import { JobsPage } from './pages/JobsPage';
import { authProvider } from './providers/authProvider';
import { dataProvider } from './providers/dataProvider';
import { ResourceCreate } from './resources/ResourceCreate';
import { ResourceEdit } from './resources/ResourceEdit';
import { ResourceList } from './resources/ResourceList';
import { ResourceShow } from './resources/ResourceShow';
import { TrashList } from './resources/TrashList';
import type { AdminResource, AdminSchema } from './schema';
import { darkTheme, lightTheme } from './theme';

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
