import { Alert, Button, CardContent, CircularProgress, Typography } from '@mui/material';
import { useState } from 'react';
import { Form, Login, PasswordInput, required, TextInput, useLogin } from 'react-admin';
import { OtpRequiredError } from '../api/session';

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
  const [error, setError] = useState<string | null>(null);
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
