// node-auth0 7.x ManagementClient({domain, clientId, clientSecret}) against a started latchkey:
// jobs.usersImports.create (its own multipart form), jobs.get until the job completes,
// jobs.errors.get, jobs.usersExports.create, and a 404 as the SDK's typed error. Then the
// imported bcrypt user logs in with its old password (AuthenticationClient).
import { ManagementClient } from 'auth0';
import { AuthenticationClient } from 'auth0/legacy';

const { LK_DOMAIN: domain, LK_CLIENT_ID: clientId, LK_CLIENT_SECRET: clientSecret, LK_CONNECTION_ID: connectionId,
  LK_CONNECTION: connection } = process.env;
let passed = 0;
const failures = [];
const check = (name, cond, detail = '') => {
  if (cond) { passed++; console.log(`  ok   node-jobs: ${name}`); }
  else { failures.push(name); console.log(`  FAIL node-jobs: ${name} ${JSON.stringify(detail)}`); }
};
const management = new ManagementClient({ domain, clientId, clientSecret });
const done = async (id) => {
  for (let i = 0; i < 200; i++) {
    const job = await management.jobs.get(id);
    if (job.status === 'completed' || job.status === 'failed') return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
};

try {
  const stamp = Date.now();
  const users = [
    { email: `jobs-${stamp}@example.com`, user_id: `jobs-${stamp}`, password_hash: '$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K' },
    { email: `jobs-${stamp}@example.com` },
  ];
  const file = new Blob([JSON.stringify(users)], { type: 'application/json' });
  const job = await management.jobs.usersImports.create({ users: file, connection_id: connectionId, upsert: false, external_id: 'sdk' });
  check('usersImports.create answers the pending job', job.type === 'users_import' && job.status === 'pending'
    && job.connection_id === connectionId && job.connection === connection && /^job_/.test(job.id), job);
  const finished = await done(job.id);
  check('jobs.get reports it completed with its summary', finished?.status === 'completed'
    && JSON.stringify(finished.summary) === JSON.stringify({ failed: 1, updated: 0, inserted: 1, total: 2 }), finished);
  const errors = await management.jobs.errors.get(job.id);
  const list = Array.isArray(errors) ? errors : errors?.data ?? errors;
  check('jobs.errors.get lists the duplicate with Auth0\'s code', JSON.stringify(list).includes('DUPLICATED_USER'), errors);
  const login = await new AuthenticationClient({ domain, clientId, clientSecret }).oauth.passwordGrant({
    username: users[0].email, password: 'hello', realm: connection });
  check('the imported bcrypt user logs in with its old password', !!login.data.access_token, login.status);
  const exp = await management.jobs.usersExports.create({ connection_id: connectionId, format: 'json', fields: [{ name: 'email' }] });
  check('usersExports.create answers the pending export', exp.type === 'users_export' && exp.status === 'pending', exp);
  const exported = await done(exp.id);
  check('the export completes with a location', exported?.status === 'completed' && exported.location.endsWith(`/api/v2/jobs/${exp.id}/download`), exported);
  try {
    await management.jobs.get('job_doesnotexist00');
    check('an unknown job rejects', false);
  } catch (err) {
    check('an unknown job rejects with 404 and the envelope', err.statusCode === 404 && err.body?.errorCode === 'inexistent_job',
      { status: err.statusCode, body: err.body });
  }
} catch (e) {
  failures.push(`exception: ${e.message}`);
  console.log(`  FAIL node-jobs: ${e.stack} ${JSON.stringify(e.body ?? '')}`);
}
console.log(`node-jobs: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
