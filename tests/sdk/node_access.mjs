// node-auth0 7.x ManagementClient against a started latchkey: roles (create, get, update, list,
// delete) and their holders paged with the SDK's own iterators (offset and checkpoint), a
// user's roles, client grants written and what they let a client obtain, and the tenant log
// (list with search, get, a user's events); Auth0's errors as the SDK's typed error.
import { ManagementClient } from 'auth0';
import { AuthenticationClient } from 'auth0/legacy';

const { LK_DOMAIN: domain, LK_CLIENT_ID: clientId, LK_CLIENT_SECRET: clientSecret, LK_CONNECTION: connection,
  LK_OTHER_ID: otherId, LK_OTHER_SECRET: otherSecret } = process.env;
let passed = 0;
const failures = [];
const check = (name, cond, detail = '') => {
  if (cond) { passed++; console.log(`  ok   node-access: ${name}`); }
  else { failures.push(name); console.log(`  FAIL node-access: ${name} ${JSON.stringify(detail)}`); }
};
const rejects = async (name, fn, status, code) => {
  try {
    await fn();
    check(name, false, 'resolved');
  } catch (err) {
    check(name, err.statusCode === status && (!code || err.body?.errorCode === code), { status: err.statusCode, body: err.body });
  }
};
const all = async (page) => { const out = []; for await (const x of page) out.push(x); return out; };
const management = new ManagementClient({ domain, clientId, clientSecret });

try {
  const stamp = Date.now();
  const role = await management.roles.create({ name: `editor-${stamp}`, description: 'Edits' });
  check('roles.create answers the role', role.id?.startsWith('rol_') && role.name === `editor-${stamp}`, role);
  const read = await management.roles.get(role.id);
  check('roles.get reads it back', read.description === 'Edits', read);
  const renamed = await management.roles.update(role.id, { name: `writer-${stamp}` });
  check('roles.update renames it', renamed.name === `writer-${stamp}`, renamed);
  await rejects('a duplicate role name rejects with 409', () => management.roles.create({ name: `writer-${stamp}` }), 409);
  for (let i = 0; i < 3; i++) await management.roles.create({ name: `extra-${stamp}-${i}` });
  const listed = await all(await management.roles.list({ name_filter: `${stamp}`, per_page: 2 }));
  check('roles.list pages through every role with the SDK iterator', listed.length === 4, listed.map((r) => r.name));

  const users = [];
  for (let i = 0; i < 3; i++) {
    const u = await management.users.create({ connection, email: `roles-${stamp}-${i}@example.com`, password: 'Passw0rd!', verify_email: false });
    users.push(u.user_id);
  }
  await management.roles.users.assign(role.id, { users: users.slice(0, 2) });
  await management.users.roles.assign(users[2], { roles: [role.id] });
  const holders = await all(await management.roles.users.list(role.id, { take: 1 }));
  check('roles.users.list follows the checkpoint through every holder', holders.length === 3
    && new Set(holders.map((h) => h.user_id)).size === 3, holders);
  const mine = await all(await management.users.roles.list(users[2]));
  check('users.roles.list shows the role', mine.length === 1 && mine[0].id === role.id, mine);
  await management.users.roles.delete(users[2], { roles: [role.id] });
  const none = await all(await management.users.roles.list(users[2]));
  check('users.roles.delete takes it', none.length === 0, none);
  await rejects('an unknown role is the SDK\'s 404', () => management.users.roles.assign(users[0], { roles: ['rol_nope'] }), 404, 'inexistent_role');
  await management.roles.delete(role.id);
  await rejects('a deleted role is a 404', () => management.roles.get(role.id), 404, 'inexistent_role');

  // Client grants: the other client gets a Management token only while its grant exists.
  const audience = `https://${domain}/api/v2/`;
  const grant = await management.clientGrants.create({ client_id: otherId, audience, scope: ['read:users'] });
  check('clientGrants.create answers the grant', grant.id?.startsWith('cgr_') && grant.scope?.[0] === 'read:users', grant);
  const granted = await all(await management.clientGrants.list({ client_id: otherId }));
  check('clientGrants.list finds it', granted.length === 1 && granted[0].id === grant.id, granted);
  const other = new ManagementClient({ domain, clientId: otherId, clientSecret: otherSecret });
  const seen = await other.users.get(users[0]);
  check('the granted client reads users', seen.user_id === users[0], seen);
  await rejects('but may not delete them (403)', () => other.users.delete(users[0]), 403, 'insufficient_scope');
  const widened = await management.clientGrants.update(grant.id, { scope: ['read:users', 'delete:users'] });
  check('clientGrants.update replaces the scopes', widened.scope?.length === 2, widened);
  await rejects('a duplicate grant rejects with 409', () => management.clientGrants.create({ client_id: otherId, audience, scope: [] }), 409);
  await management.clientGrants.delete(grant.id);
  const again = new ManagementClient({ domain, clientId: otherId, clientSecret: otherSecret });
  try {
    await again.users.get(users[0]);
    check('without its grant the client gets no token', false, 'resolved');
  } catch (err) {
    check('without its grant the client gets no token', err.statusCode === 403 || /403|access_denied/.test(String(err.message)), { status: err.statusCode, message: err.message });
  }

  // The log.
  const writes = await all(await management.logs.list({ search: 'type:sapi', per_page: 10 }));
  check('logs.list with search finds the Management writes', writes.length >= 10 && writes.every((e) => e.type === 'sapi'), writes.length);
  const one = await management.logs.get(writes[0].log_id);
  check('logs.get reads one event', one.log_id === writes[0].log_id && one.client_id === clientId, one);
  await new AuthenticationClient({ domain, clientId, clientSecret }).oauth.passwordGrant({
    username: `roles-${stamp}-0@example.com`, password: 'Passw0rd!', realm: connection });
  const theirs = await all(await management.users.logs.list(users[0]));
  check('users.logs.list reads the user\'s login', theirs.length === 1 && theirs[0].type === 's'
    && theirs[0].user_id === users[0], theirs);
  const text = JSON.stringify(writes);
  check('no secret or password in the log', !text.includes('Passw0rd!') && !text.includes(clientSecret) && !text.includes(otherSecret));
} catch (e) {
  failures.push(`exception: ${e.message}`);
  console.log(`  FAIL node-access: ${e.stack} ${JSON.stringify(e.body ?? '')}`);
}
console.log(`node-access: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
