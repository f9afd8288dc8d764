import { Alert, Button, CardContent, CircularProgress, Divider, Stack, Typography } from '@mui/material';
import { useEffect, useState } from 'react';
import { Form, Login, PasswordInput, required, TextInput, useLogin } from 'react-admin';
import { requestJson } from '../api/http';
import { OtpRequiredError } from '../api/session';

/** A provider of OAUTH_PROVIDERS, as GET /api/auth/oauth/providers lists it. */
interface OAuthProvider {
  name: string;
  label: string;
  authorizeUrl: string;
}

/** Why a "Sign in with …" came back to this page (`?oauth_error=<problem>`, set by the server's callback). */
const OAUTH_ERRORS: Record<string, string> = {
  'oauth-sign-in-refused':
    'That account cannot open the admin: it is not staff, is disabled, or has two-factor authentication (sign in with its password and code).',
  'oauth-email-unverified':
    'The provider did not confirm your email address as verified, so no account was linked.',
  'registration-closed': 'No account has that email address.',
  'oauth-provider-unavailable': 'The sign-in provider is unavailable right now. Try again shortly.',
  'oauth-denied': 'The sign-in was declined at the provider.',
};

function oauthError(): string | null {
  const code = new URLSearchParams(window.location.search).get('oauth_error');
  return code === null ? null : (OAUTH_ERRORS[code] ?? 'Sign-in with the provider failed. Try again.');
}

/** One "Sign in with …" button per configured provider; nothing when none is. */
function ProviderButtons() {
  const [providers, setProviders] = useState<OAuthProvider[]>([]);
  useEffect(() => {
    requestJson<OAuthProvider[]>('/api/auth/oauth/providers').then(
      ({ json }) => setProviders(json),
      () => setProviders([]), // the password form still works
    );
  }, []);
  if (providers.length === 0) {
    return null;
  }
  return (
    <Stack spacing={1} sx={{ mt: 2 }}>
      <Divider>or</Divider>
      {providers.map((provider) => (
        // A full-page navigation, not fetch: the provider's pages take over, then return to /admin/.
        <Button key={provider.name} variant="outlined" fullWidth href={`${provider.authorizeUrl}?mode=admin`}>
          Sign in with {provider.label}
        </Button>
      ))}
    </Stack>
  );
}

interface Credentials {
  email: string;
  password: string;
  otp?: string;
}

function refusal(error: unknown): string {
  const { status, message } = error as { status?: number; message?: string };
  if (status === 403) {
    return message || 'This account is not staff: it cannot use the admin panel.';
  }
  if (status === 401) {
    return message || 'Wrong email or password.';
  }
  return message || 'Sign-in failed. Try again.';
}

/** Email and password, then the one-time code when the account has two-factor authentication. */
function LoginForm() {
  const login = useLogin();
  const [needsOtp, setNeedsOtp] = useState(false);
  const [error, setError] = useState<string | null>(oauthError);
  const [pending, setPending] = useState(false);

  const submit = async (values: Record<string, unknown>) => {
    const { email, password, otp } = values as unknown as Credentials;
    setPending(true);
    setError(null);
    try {
      await login(needsOtp ? { email, password, otp } : { email, password });
    } catch (failure) {
      if (failure instanceof OtpRequiredError) {
        setNeedsOtp(true);
      } else {
        setError(refusal(failure));
      }
    } finally {
      setPending(false);
    }
  };

  return (
    <Form onSubmit={submit} noValidate>
      <CardContent sx={{ width: { xs: 'calc(100vw - 64px)', sm: 320 }, maxWidth: 320 }}>
        <Typography component="h1" variant="h5" sx={{ mb: 2, textAlign: 'center' }}>
          Nestor admin
        </Typography>
        {error && (
          <Alert severity="error" sx={{ mb: 2 }}>
            {error}
          </Alert>
        )}
        <TextInput
          source="email"
          label="Email"
          type="email"
          autoComplete="username"
          validate={required()}
          autoFocus
        />
        <PasswordInput
          source="password"
          label="Password"
          autoComplete="current-password"
          validate={required()}
        />
        {needsOtp && (
          <>
            <Alert severity="info" sx={{ mb: 2 }}>
              Enter the code from your authenticator app, or a recovery code.
            </Alert>
            <TextInput
              source="otp"
              label="Authentication code"
              autoComplete="one-time-code"
              validate={required()}
              autoFocus
              slotProps={{ htmlInput: { inputMode: 'numeric' } }}
            />
          </>
        )}
        <Button variant="contained" type="submit" disabled={pending} fullWidth sx={{ mt: 1 }}>
          {pending ? (
            <CircularProgress size={19} thickness={3} aria-label="Signing in" />
          ) : needsOtp ? (
            'Verify'
          ) : (
            'Sign in'
          )}
        </Button>
        <ProviderButtons />
      </CardContent>
    </Form>
  );
}

export function LoginPage() {
  return (
    <Login>
      <LoginForm />
    </Login>
  );
}
