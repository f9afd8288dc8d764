import { type ComponentType, lazy, type ReactElement, Suspense } from 'react';
import { Loading } from 'react-admin';

/**
 * A page loaded on first visit, in a chunk of its own: the login page and the shell do not wait for the
 * lists, forms and dashboards.
 * Example: `const Dashboard = lazyPage(() => import('./pages/Dashboard'), 'Dashboard')`.
 */
export function lazyPage<K extends string>(
  load: () => Promise<Record<K, ComponentType>>,
  name: K,
): () => ReactElement {
  const Page = lazy(async (): Promise<{ default: ComponentType }> => ({ default: (await load())[name] }));
  const Lazy = () => (
    <Suspense fallback={<Loading />}>
      <Page />
    </Suspense>
  );
  Lazy.displayName = `Lazy${name}`;
  return Lazy;
}
