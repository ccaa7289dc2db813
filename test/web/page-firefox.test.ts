// The gallery page (issue 25) in headless Firefox (Debian's firefox-esr, through puppeteer-core over WebDriver
// BiDi), opened from file://: the same checks as in Chromium (page-checks.ts). Screenshots go to test/artifacts/.

import t from 'tap';
import { noDataCheck, pageChecks } from './page-checks.js';
import { firefoxMissing, launchFirefox } from './page-driver.js';

t.test('the gallery page in Firefox from file://', { skip: firefoxMissing }, (t) => pageChecks(t, launchFirefox));

t.test('a folder without data says so instead of failing', { skip: firefoxMissing }, (t) => noDataCheck(t, launchFirefox));
