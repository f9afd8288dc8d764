import WorkHistoryIcon from '@mui/icons-material/WorkHistory';
import type { ReactNode } from 'react';
import {
  AppBar,
  Layout as RaLayout,
  Menu as RaMenu,
  TitlePortal,
  UserMenu,
  useGetIdentity,
} from 'react-admin';

function Menu() {
  return (
    <RaMenu>
      <RaMenu.DashboardItem />
      <RaMenu.ResourceItems />
      <RaMenu.Item to="/jobs" primaryText="Jobs" leftIcon={<WorkHistoryIcon />} />
    </RaMenu>
  );
}

/** The user menu button shows the email: its accessible name must contain it (WCAG 2.5.3). */
function AccountMenu() {
  const { identity } = useGetIdentity();
  return <UserMenu label={identity?.fullName ? `${identity.fullName} (account)` : 'Account'} />;
}

// The page title is the page's h1.
function NestorAppBar() {
  return (
    <AppBar userMenu={<AccountMenu />}>
      <TitlePortal component="h1" />
    </AppBar>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  return (
    <RaLayout menu={Menu} appBar={NestorAppBar}>
      {children}
    </RaLayout>
  );
}
