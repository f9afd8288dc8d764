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
// A page load checks the session from several places at once (auth check, permissions, identity, the
// login page): they share one request, and once it (or any request) says 401, they stop asking until a login.
let probe: Promise<AdminUser> | null = null;
let signedOut = false;

function signedIn(body: SessionBody): AdminUser {
  user = body.user;
  signedOut = false;
  setCsrfToken(body.csrfToken);
  schema = null;
  return body.user;
}

/** No session any more (a 401, a logout): later checks answer 401 without asking the server. */
export function forget(): void {
  user = null;
  schema = null;
  probe = null;
  signedOut = true;
  setCsrfToken(null);
}

export function currentUser(): AdminUser | null {
  return user;
}

/** The live session (after a reload, the cookie is all we have), or an HttpError 401. */
export function resume(): Promise<AdminUser> {
  if (user) {
    return Promise.resolve(user);
  }
  if (signedOut) {
    return Promise.reject(new HttpError('Not signed in', 401));
  }
  probe ??= requestJson<SessionBody>('/admin/api/session').then(
    ({ json }) => signedIn(json),
    (error: unknown) => {
      probe = null;
      if ((error as HttpError).status === 401) {
        signedOut = true;
      }
      throw error;
    },
  );
  return probe;
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
