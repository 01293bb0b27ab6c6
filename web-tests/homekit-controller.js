// A HomeKit controller for ui/homekit's end-to-end test: the real hap-controller library
// over HAP/IP, connecting straight to the bridge's address (no discovery). It reads one
// JSON command a line on stdin and answers each with one JSON line on stdout:
//   {"op":"pair","pin":"XXX-XX-XXX"}
//   {"op":"reconnect"}            (a new session, after the bridge restarted)
//   {"op":"accessories"}
//   {"op":"get","ids":["aid.iid", …]}
//   {"op":"set","values":{"aid.iid": value, …}}
//   {"op":"subscribe","ids":["aid.iid", …]}
//        events on those characteristics, on a connection of their own; each event is
//        written as a line {"event":{"characteristics":[{"aid","iid","value"}]}} when it
//        arrives, between answers.
//   {"op":"discover","iface":"eth0"}
//        browses for HAP bridges over mDNS (on that interface), answers the first one
//        ready to pair, and talks to it from then on at the address it announced
//   {"op":"unpair"}               (removes this controller's own pairing, as "Remove Bridge")
//   {"op":"fresh","n":N,"ids":["aid.iid"],"patienceMs":5000}
//        N fresh connections one after the other, each with its own pair-verify and one
//        read, as an iPhone reconnecting; answers how many hung (no answer within
//        patienceMs, with the phase they hung in), failed, and the time each took.
// An answer is {"ok":…} or {"error":"…","status":…,"body":…}.
'use strict';

const readline = require('node:readline');
const { HttpClient, IPDiscovery, PairMethods } = require('hap-controller');
const HttpConnection = require('hap-controller/lib/transport/ip/http-connection').default;

let [host, port] = [process.argv[2], Number(process.argv[3])];
let client = new HttpClient('vakt-test', host, port);

// json-bigint numbers (aid, iid) become plain numbers: HAP's ids fit in 53 bits.
function plain(v) {
  return JSON.parse(JSON.stringify(v, (k, x) => (x && typeof x === 'object' && x._isBigNumber ? Number(x) : x)));
}

async function run(cmd) {
  switch (cmd.op) {
    case 'pair':
      // vakt is no MFi accessory: plain pair setup, not the default with authentication.
      // No retry: a pairing that fails fails the test (vakt pads SRP's values as this
      // library does: third_party/go-pkgs/VAKT.md).
      await client.pairSetup(cmd.pin, PairMethods.PairSetup);
      // One verified session for every later command, as the Home app keeps; the "fresh"
      // command tests new sessions.
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
    case 'fresh':
      return fresh(cmd);
    case 'subscribe':
      if (!client.listenerCount('event')) {
        client.on('event', (ev) => process.stdout.write(JSON.stringify({ event: plain(ev) }) + '\n'));
      }
      return plain(await client.subscribeCharacteristics(cmd.ids));
    case 'discover': {
      const discovery = new IPDiscovery(cmd.iface);
      const found = await new Promise((resolve) => {
        discovery.on('serviceUp', (svc) => {
          if (svc.availableToPair && svc.ci === 2) {
            resolve(svc);
          }
        });
        discovery.start();
      });
      discovery.stop();
      [host, port] = [found.address, found.port];
      client = new HttpClient('vakt-test', host, port);
      return found;
    }
    case 'unpair': {
      // hap closes every connection when the last admin controller goes, before its
      // answer is out, and hap-controller then waits for that answer for ever: the
      // caller checks on the bridge's side that the pairing is gone.
      const removed = client.removePairing(client.getLongTermData().iOSDevicePairingID).then(() => 'answered');
      removed.catch(() => {});
      return Promise.race([removed, new Promise((resolve) => setTimeout(() => resolve('connection closed'), 2000))]);
    }
  }
  throw new Error(`unknown op ${cmd.op}`);
}

// fresh opens cmd.n connections in turn, each verified on its own (pair-verify M1–M4) and
// then read once. A connection that gets no answer within patienceMs is closed and counted
// as hung, with the phase it was in; the next one starts at once.
async function fresh(cmd) {
  const patience = cmd.patienceMs || 5000;
  const longTerm = client.getLongTermData();
  const out = { n: cmd.n, hung: [], failed: [], ms: [] };
  for (let i = 0; i < cmd.n; i++) {
    // A client of its own: a hung pair-verify would block the queue of a shared one.
    const c = new HttpClient('vakt-test', host, port, longTerm);
    const conn = new HttpConnection(host, port);
    let phase = 'pair-verify';
    let timer;
    const started = process.hrtime.bigint();
    const stalled = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('hung')), patience);
    });
    const attempt = (async () => {
      conn.setSessionKeys(await c._pairVerify(conn));
      phase = 'read';
      const res = await conn.get(`/characteristics?id=${cmd.ids.join(',')}`);
      if (res.statusCode !== 200 && res.statusCode !== 207) {
        throw new Error(`read: status ${res.statusCode}`);
      }
      JSON.parse(res.body.toString());
    })();
    try {
      await Promise.race([attempt, stalled]);
      out.ms.push(Number(process.hrtime.bigint() - started) / 1e6);
    } catch (err) {
      if (err.message === 'hung') {
        out.hung.push({ i, phase });
        if (conn.socket) {
          conn.socket.destroy();
        }
      } else {
        out.failed.push({ i, phase, error: String(err.message || err) });
      }
      attempt.catch(() => {});
    } finally {
      clearTimeout(timer);
      conn.close();
    }
  }
  return out;
}

const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on('line', (line) => {
  queue = queue.then(async () => {
    let out;
    try {
      out = { ok: await run(JSON.parse(line)) };
    } catch (err) {
      out = { error: String(err && err.message ? err.message : err), status: err && err.statusCode, body: err && err.body && plain(err.body) };
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  });
});
rl.on('close', () => queue.then(() => client.closePersistentConnection()).then(() => process.exit(0)));
