// `--out s3://...` refusals end to end (issue 26): wrong or missing credentials (exit 3), a missing bucket and an
// unreachable endpoint (exit 4) each stop the run with one line before any Discord request; S3 flags and
// combinations dps does not support are usage errors (exit 2) that show what was typed.

import t from 'tap';
import type { Test } from 'tap';
import { join } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import { fakeFor, firstTarget, runDps, stderrLines } from '../cli/helpers.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';

const s3 = await s3Server();
t.teardown(() => s3.stop());

const scenario = () => singleChannel({ seed: 63, messages: 5, imageRatio: 1, sizes: [500, 1_000] });

// One run against a fresh fake: its exit code, its stderr's lines, and how many requests the fake answered.
async function attempt(t: Test, out: string, env: Record<string, string>, extra: string[] = []) {
  const fake = await fakeFor(t, { scenario: scenario() });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const run = await runDps(
    ['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', out, '--state', join(dir, 'state'), '--s3-force-path-style', ...extra],
    {
      env: { DISCORD_TOKEN: fake.token, AWS_EC2_METADATA_DISABLED: 'true', ...env },
    },
  );
  const problems = stderrLines(run.stderr).filter((l) => !l.startsWith('note: '));
  return { run, problems, requests: fake.requests.length };
}

t.test('wrong credentials: exit 3, one line, no Discord request, the secret never shown', async (t) => {
  const bucket = await s3.createBucket(bucketName('creds'));
  const secret = 'wrong-secret-0123456789';
  const { run, problems, requests } = await attempt(t, `s3://${bucket}/x`, { ...s3.env(), AWS_SECRET_ACCESS_KEY: secret });
  t.equal(run.code, 3, `exit 3 (stderr: ${run.stderr})`);
  t.equal(problems.length, 1, 'one line');
  t.match(problems[0], /S3 refused the credentials/);
  t.equal(requests, 0, 'no Discord request was made');
  t.notOk(run.stdout.includes(secret) || run.stderr.includes(secret), 'the secret is never printed');
});

t.test('no credentials anywhere in the AWS chain: exit 3', async (t) => {
  const bucket = await s3.createBucket(bucketName('nocreds'));
  const env = s3.env();
  const { run, requests } = await attempt(t, `s3://${bucket}/x`, { AWS_ENDPOINT_URL_S3: env.AWS_ENDPOINT_URL_S3!, AWS_REGION: env.AWS_REGION! });
  t.equal(run.code, 3, `exit 3 (stderr: ${run.stderr})`);
  t.equal(requests, 0, 'no Discord request was made');
});

t.test('a missing bucket: exit 4, one line naming it, no Discord request', async (t) => {
  const missing = bucketName('missing');
  const { run, problems, requests } = await attempt(t, `s3://${missing}/x`, s3.env());
  t.equal(run.code, 4, `exit 4 (stderr: ${run.stderr})`);
  t.equal(problems.length, 1, 'one line');
  t.match(problems[0], new RegExp(`${missing}.*does not exist`));
  t.equal(requests, 0, 'no Discord request was made');
});

t.test('an endpoint nobody answers: exit 4, one line, no Discord request', async (t) => {
  const { run, problems, requests } = await attempt(t, `s3://${bucketName('nowhere')}/x`, { ...s3.env(), AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1' });
  t.equal(run.code, 4, `exit 4 (stderr: ${run.stderr})`);
  t.equal(problems.length, 1, 'one line');
  t.match(problems[0], /cannot be reached/);
  t.equal(requests, 0, 'no Discord request was made');
});

t.test('usage errors (exit 2) show the value typed', async (t) => {
  const cases: Array<[string, string[], RegExp]> = [
    ['s3://Bad_Bucket/x', [], /Bad_Bucket/],
    ['s3://good-bucket/a//b', [], /a\/\/b/],
    ['s3://good-bucket/x', ['--s3-part-size', '1MB'], /--s3-part-size.*1MB/],
    ['s3://good-bucket/x', ['--s3-endpoint', 'ftp://host'], /ftp:\/\/host/],
    // --dry-run and --gallery work with s3:// (dry-run-cli.test.ts, gallery-cli.test.ts); a local --gallery-dir does not.
    ['s3://good-bucket/x', ['--gallery', '--gallery-dir', 'g-dir'], /--gallery-dir g-dir: with --out s3:\/\/good-bucket\/x/],
  ];
  for (const [out, extra, pattern] of cases) {
    const { run, problems, requests } = await attempt(t, out, s3.env(), extra);
    t.equal(run.code, 2, `${out} ${extra.join(' ')}: exit 2 (stderr: ${run.stderr})`);
    t.match(problems.join('\n'), pattern, 'the message shows what was typed');
    t.equal(requests, 0, 'no Discord request');
  }
  const dir = t.testdir();
  const { run } = await attempt(t, join(dir, 'out'), {}, ['--s3-copy-duplicates']);
  t.equal(run.code, 2, '--s3-copy-duplicates without an s3:// --out: exit 2');
  t.match(run.stderr, /--s3-copy-duplicates needs --out s3:\/\/bucket\/prefix, got --out /);
});

t.test('dps gallery with an s3:// --out and a local --gallery-dir: exit 2', async (t) => {
  const dir = t.testdir();
  const run = await runDps(['gallery', '--out', 's3://good-bucket/x', '--state', join(dir, 'state'), '--gallery-dir', join(dir, 'g')]);
  t.equal(run.code, 2, `exit 2 (stderr: ${run.stderr})`);
  t.match(run.stderr, /--gallery-dir .*: with --out s3:\/\/good-bucket\/x the gallery is uploaded beside the archive/);
});

t.test('dps follow into a missing bucket: exit 4, one line, before any Discord request', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const missing = bucketName('absent');
  const run = await runDps(['follow', '--server-id', G, '--channel-id', C, '--api', fake.api, '--out', `s3://${missing}/x`, '--state', join(dir, 'state')], {
    env: { DISCORD_TOKEN: fake.token, ...s3.env() },
  });
  t.equal(run.code, 4, `exit 4 (stderr: ${run.stderr})`);
  t.match(run.stderr, new RegExp(`${missing}.*does not exist`));
  t.equal(fake.requests.length, 0, 'no Discord request (the preflight runs first, as for a scrape)');
});
