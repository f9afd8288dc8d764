import type { CheckboxOwnerState } from '@mui/material';
import { defaultDarkTheme, defaultLightTheme, type RaThemeOptions } from 'react-admin';

/**
 * react-admin's themes, adjusted for WCAG AA: its blues (#2196f3 app bar, #1976d2 buttons) and the dark
 * theme's red give small text less than 4.5:1 contrast.
 */
const lightPalette: RaThemeOptions['palette'] = {
  ...defaultLightTheme.palette,
  primary: { main: '#1565c0' },
  secondary: { main: '#1565c0', contrastText: '#fff' },
  error: { main: '#b71c1c' },
};

const darkPalette: RaThemeOptions['palette'] = {
  ...defaultDarkTheme.palette,
  error: { main: '#f28b82' },
};

/**
 * react-admin's loading spinners and bars (the app bar's refresh indicator, a reference field still
 * fetching) are unnamed progress bars (axe: "aria-progressbar-name"): name them all.
 *
 * react-admin gives its row checkboxes an `aria-label`, which MUI 9 puts on the checkbox's wrapper span
 * instead of the input: the input ends up unlabelled (axe: "label", "aria-prohibited-attr"). Move it.
 * The placeholder table a slow list shows has unlabelled "select-all" checkboxes: they say it is loading.
 */
function adjusted(theme: RaThemeOptions, palette: RaThemeOptions['palette']): RaThemeOptions {
  return {
    ...theme,
    palette,
    components: {
      ...theme.components,
      // react-admin's themes leave MuiCheckbox and the progress bars alone: nothing is overwritten here.
      MuiCircularProgress: { defaultProps: { 'aria-label': 'Loading' } },
      MuiLinearProgress: { defaultProps: { 'aria-label': 'Loading' } },
      MuiCheckbox: {
        defaultProps: {
          slotProps: {
            root: { 'aria-label': undefined },
            input: (ownerState: CheckboxOwnerState) => ({
              'aria-label':
                ownerState['aria-label'] ??
                (ownerState.className?.split(' ').includes('select-all') ? 'Loading' : undefined),
            }),
          },
        },
      },
    },
  };
}

export const lightTheme = adjusted(defaultLightTheme, lightPalette);
export const darkTheme = adjusted(defaultDarkTheme, darkPalette);
