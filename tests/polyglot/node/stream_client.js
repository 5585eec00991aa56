// A Node.js producer and consumer of pgqrsd on its streams (@grpc/grpc-js, stubs loaded from
// proto/ at run time). Usage: node stream_client.js PROTO_ROOT HOST:PORT QUEUE COUNT CREDITS
//
// A Publish stream sends COUNT messages as pipelined requests without waiting in between and
// checks each confirmation (in order, one id per message). A Consume stream granted CREDITS
// gets them pushed and acks each one by itself on the same stream; the server never holds
// more than CREDITS unacked messages on it, every message arrives exactly once, and each ack
// result is OK. Each check that fails exits 1 with what it saw.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [protoRoot, server, queue, countArg, creditsArg] = process.argv.slice(2);
const count = Number(countArg);
const credits = Number(creditsArg);
if (!protoRoot || !server || !queue || !(count > 0) || !(credits > 0)) {
  console.error('usage: node stream_client.js PROTO_ROOT HOST:PORT QUEUE COUNT CREDITS');
  process.exit(2);
}

const definition = protoLoader.loadSync(path.join('proto/pgqrs/v1', 'queue.proto'),
    {includeDirs: [protoRoot], keepCase: true, longs: String, enums: String, defaults: true});
const v1 = grpc.loadPackageDefinition(definition).pgqrs.v1;
const queues = new v1.QueueService(server, grpc.credentials.createInsecure());

function check(condition, what) {
  if (!condition) {
    console.error(`FAIL: ${what}`);
    process.exit(1);
  }
}

function deadline() {
  return new Date(Date.now() + 20000);
}

// Publishes `count` messages, one per request, all in flight at once; resolves with the ids.
function publish() {
  return new Promise((resolve, reject) => {
    const stream = queues.Publish({deadline: deadline()});
    const ids = [];
    stream.on('data', (resp) => {
      check(Number(resp.sequence) === ids.length,
          `confirmation ${resp.sequence} arrived out of order (expected ${ids.length})`);
      check(resp.error_code === 0, `publish ${resp.sequence}: ${resp.error_message}`);
      check(resp.message_ids.length === 1, `publish ${resp.sequence}: ${resp.message_ids}`);
      ids.push(resp.message_ids[0]);
      if (ids.length === count) stream.end();
    });
    stream.on('error', reject);
    stream.on('end', () => resolve(ids));
    for (let i = 0; i < count; i++) {
      stream.write({sequence: i, queue, messages: [{payload_json: JSON.stringify({n: i})}]});
    }
  });
}

// Consumes `expected` messages with `credits` credits, acking each one by itself.
function consume(expected) {
  return new Promise((resolve, reject) => {
    const stream = queues.Consume({deadline: deadline()});
    const received = [];
    const seen = new Set();
    let unacked = 0;
    let acksOk = 0;
    let requestId = 0;
    stream.on('data', (resp) => {
      for (const m of resp.messages) {
        check(!seen.has(m.id), `message ${m.id} was pushed twice`);
        seen.add(m.id);
        received.push(m.id);
        unacked++;
        check(unacked <= credits, `${unacked} unacked messages on a stream granted ${credits}`);
        stream.write({request_id: ++requestId, ack_receipts: [m.receipt]});
      }
      for (const r of resp.ack_results) {
        check(r === 'RECEIPT_RESULT_OK', `ack result ${r}`);
        unacked--;
        acksOk++;
      }
      if (acksOk === expected) stream.end();
    });
    stream.on('error', reject);
    stream.on('end', () => resolve(received));
    stream.write({queue, add_credits: credits});
  });
}

async function main() {
  await new Promise((resolve, reject) => queues.CreateQueue(
      {name: queue}, {deadline: deadline()}, (err) => (err ? reject(err) : resolve())));
  const ids = await publish();
  console.log(`published ${ids.length} on one stream`);
  const received = await consume(count);
  check(received.length === count, `consumed ${received.length} of ${count}`);
  check(received.join() === ids.join(), 'messages were not pushed in publish order');
  const stats = await new Promise((resolve, reject) => queues.QueueStats(
      {queue}, {deadline: deadline()}, (err, s) => (err ? reject(err) : resolve(s))));
  check(stats.archived === String(count) && stats.pending === '0' && stats.in_flight === '0',
      `stats after the stream: ${JSON.stringify(stats)}`);
  console.log(`streamed ${count} messages with ${credits} credits, stats ${JSON.stringify(stats)}`);
}

main().then(() => process.exit(0), (err) => {
  console.error(`FAIL: ${err.message}`);
  process.exit(1);
});
