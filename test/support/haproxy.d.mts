import type { ChildProcess } from 'node:child_process';

export function writeLoopbackConfig(file: string, ports: number[]): void;
export function startHaproxy(
  file: string,
  env: Record<string, string>,
  port: number,
): Promise<{ child: ChildProcess; output: () => string }>;
export function haproxyCommand(socketPath: string, command: string): Promise<string>;
export function serverStatus(socketPath: string, backend?: string): Promise<Map<string, string>>;
