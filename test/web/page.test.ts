// The gallery page (issue 25) in headless Chromium (Debian's, through playwright-core), opened from file://: the
// checks of page-checks.ts (every file reachable, the lightbox, filters, the hash, no request off the file system,
// no console error), which page-firefox.test.ts runs in Firefox. Screenshots go to test/artifacts/.

import t from 'tap';
import { chromiumMissing } from './gallery-fixture.js';
import { noDataCheck, pageChecks } from './page-checks.js';
import { launchChromium } from './page-driver.js';

t.test('the gallery page in Chromium from file://', { skip: chromiumMissing }, (t) => pageChecks(t, launchChromium));

t.test('a folder without data says so instead of failing', { skip: chromiumMissing }, (t) => noDataCheck(t, launchChromium));
