import { HttpError } from 'react-admin';
import { OTP_REQUIRED, type Problem, request, requestJson, setCsrfToken } from './http';
import type { AdminSchema, AdminUser } from '../schema';

interface SessionBody {
  user: AdminUser;
  csrfToken: string;
}

/** Login needs a one-time code: the login page then asks for `otp`. */
export class OtpRequiredError extends Error {}

let user: AdminUser | null = null;
let schema: Promise<AdminSchema> | null = null;

function signedIn(body: SessionBody): AdminUser {
  user = body.user;
  setCsrfToken(body.csrfToken);
  schema = null;
  return body.user;
}

export function forget(): void {
  user = null;
  schema = null;
  setCsrfToken(null);
}

export function currentUser(): AdminUser | null {
  return user;
}

/** The live session (after a reload, the cookie is all we have), or an HttpError 401. */
export async function resume(): Promise<AdminUser> {
  if (user) {
    return user;
  }
  const { json } = await requestJson<SessionBody>('/admin/api/session');
  return signedIn(json);
}

export async function login(credentials: {
  email: string;
  password: string;
  otp?: string;
}): Promise<AdminUser> {
  try {
    const { json } = await requestJson<SessionBody>('/admin/api/session', {
      method: 'POST',
      body: credentials,
    });
    return signedIn(json);
  } catch (error) {
    const problem = (error as HttpError).body as { problem?: Problem } | undefined;
    if (problem?.problem?.type === OTP_REQUIRED) {
      throw new OtpRequiredError(problem.problem.detail ?? 'Enter the code from your authenticator app.');
    }
    throw error;
  }
}

export async function logout(): Promise<void> {
  try {
    if (user) {
      await request('/admin/api/session', { method: 'DELETE' });
    }
  } finally {
    forget();
  }
}

/** The admin schema for the signed-in user, fetched once per session. */
export function loadSchema(): Promise<AdminSchema> {
  schema ??= requestJson<AdminSchema>('/admin/api/schema').then(
    ({ json }) => json,
    (error: unknown) => {
      schema = null;
      throw error;
    },
  );
  return schema;
}
