// A HomeKit controller for ui/homekit's end-to-end test: the real hap-controller library
// over HAP/IP, connecting straight to the bridge's address (no discovery). It reads one
// JSON command a line on stdin and answers each with one JSON line on stdout:
//   {"op":"pair","pin":"XXX-XX-XXX"}
//   {"op":"reconnect"}            (a new session, after the bridge restarted)
//   {"op":"accessories"}
//   {"op":"get","ids":["aid.iid", …]}
//   {"op":"set","values":{"aid.iid": value, …}}
// An answer is {"ok":…} or {"error":"…","status":…,"body":…}.
'use strict';

const readline = require('node:readline');
const { HttpClient, PairMethods } = require('hap-controller');

const [host, port] = [process.argv[2], Number(process.argv[3])];
let client = new HttpClient('vakt-test', host, port);

// json-bigint numbers (aid, iid) become plain numbers: HAP's ids fit in 53 bits.
function plain(v) {
  return JSON.parse(JSON.stringify(v, (k, x) => (x && typeof x === 'object' && x._isBigNumber ? Number(x) : x)));
}

async function run(cmd) {
  switch (cmd.op) {
    case 'pair':
      // vakt is no MFi accessory: plain pair setup, not the default with authentication.
      await client.pairSetup(cmd.pin, PairMethods.PairSetup);
      // Each command after pairing opens a verified session of its own.
      // One verified session for every later command, as the Home app keeps: a new
      // connection per request stalls now and then in hap's pair-verify.
      client = new HttpClient('vakt-test', host, port, client.getLongTermData(), { usePersistentConnections: true });
      return true;
    case 'reconnect': // the bridge restarted
      client.closePersistentConnection();
      client = new HttpClient('vakt-test', host, port, client.getLongTermData(), { usePersistentConnections: true });
      return true;
    case 'accessories':
      return plain(await client.getAccessories());
    case 'get':
      return plain(await client.getCharacteristics(cmd.ids));
    case 'set':
      return plain(await client.setCharacteristics(cmd.values));
  }
  throw new Error(`unknown op ${cmd.op}`);
}

// hap v0.0.35 upgrades a connection to encryption racing with net/http's read of the
// next request, so now and then a fresh session stalls right after pair-verify. A command
// that gets no answer within stallMs is sent again on a new session (reads, and writes the
// hub takes as idempotent commands); it never hides a refusal, which is an answer.
const stallMs = 5000;

async function withRetry(cmd) {
  for (let attempt = 1; ; attempt++) {
    let timer;
    const stalled = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`stalled after ${stallMs} ms`)), stallMs);
    });
    try {
      return await Promise.race([run(cmd), stalled]);
    } catch (err) {
      if (cmd.op === 'pair' || attempt >= 3 || !/^stalled/.test(err.message)) {
        throw err;
      }
      process.stderr.write(`homekit-controller: ${cmd.op} ${err.message}, new session\n`);
      client.closePersistentConnection();
      client = new HttpClient('vakt-test', host, port, client.getLongTermData(), { usePersistentConnections: true });
    } finally {
      clearTimeout(timer);
    }
  }
}

const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on('line', (line) => {
  queue = queue.then(async () => {
    let out;
    try {
      out = { ok: await withRetry(JSON.parse(line)) };
    } catch (err) {
      out = { error: String(err && err.message ? err.message : err), status: err && err.statusCode, body: err && err.body && plain(err.body) };
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  });
});
rl.on('close', () => queue.then(() => client.closePersistentConnection()).then(() => process.exit(0)));
