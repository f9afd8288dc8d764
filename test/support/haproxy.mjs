// HAProxy on loopback for test/scale: the helpers `npm run cluster` uses.
// eslint-disable-next-line no-restricted-imports -- a plain Node script: no src/ or test/ path alias here
export {
  haproxyCommand,
  serverStatus,
  startHaproxy,
  writeLoopbackConfig,
} from '../../scripts/lib/haproxy.mjs';
