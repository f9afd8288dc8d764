import { ProblemException } from 'src/framework/http/problem';

/** 401 with `WWW-Authenticate`, the same body whatever was wrong (no hint for guessing). */
export function unauthorized(
  detail = 'Authentication required: send Authorization: Bearer <token>.',
): ProblemException {
  return new ProblemException(
    { type: 'urn:nestor:problem:unauthorized', title: 'Unauthorized', status: 401, detail },
    { 'www-authenticate': 'Bearer realm="nestor"' },
  );
}

export function forbidden(detail: string): ProblemException {
  return new ProblemException({
    type: 'urn:nestor:problem:forbidden',
    title: 'Forbidden',
    status: 403,
    detail,
  });
}
