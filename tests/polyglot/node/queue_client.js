// A Node.js producer and consumer of pgqrsd (@grpc/grpc-js, stubs loaded from proto/ at run
// time). Usage: node queue_client.js PROTO_ROOT HOST:PORT QUEUE
//
// It registers a consumer worker, enqueues a batch with mixed priorities and one delayed
// message, and consumes it: high priority first, a nacked message comes back with its read
// count raised, the delayed one only after its delay, and every message is acked exactly
// once. Each check that fails exits 1 with what it saw.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [protoRoot, server, queue] = process.argv.slice(2);
if (!protoRoot || !server || !queue) {
  console.error('usage: node queue_client.js PROTO_ROOT HOST:PORT QUEUE');
  process.exit(2);
}

const definition = protoLoader.loadSync(
  ['queue.proto', 'worker.proto'].map((f) => path.join('proto/pgqrs/v1', f)),
  {includeDirs: [protoRoot], keepCase: true, longs: String, enums: String, defaults: true});
const v1 = grpc.loadPackageDefinition(definition).pgqrs.v1;
const queues = new v1.QueueService(server, grpc.credentials.createInsecure());
const workers = new v1.WorkerService(server, grpc.credentials.createInsecure());

// A unary call as a promise, with a 10 s deadline.
function call(client, method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 10000);
    client[method](request, {deadline}, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

function check(condition, what) {
  if (!condition) {
    console.error(`FAIL: ${what}`);
    process.exit(1);
  }
}

async function dequeue(consumerId, max, waitMs) {
  const resp = await call(queues, 'Dequeue',
      {queue, consumer_worker_id: consumerId, max_messages: max, wait_ms: waitMs});
  return resp.messages;
}

async function ack(receipts) {
  const resp = await call(queues, 'Ack', {queue, receipts});
  return resp.results;
}

async function main() {
  await call(queues, 'CreateQueue', {name: queue});
  const worker = await call(workers, 'RegisterWorker',
      {name: 'node-consumer', queue, role: 'WORKER_ROLE_CONSUMER', hostname: 'polyglot'});
  console.log(`registered worker ${worker.id}`);

  const batch = [];
  for (let i = 0; i < 20; i++) {
    batch.push({payload_json: JSON.stringify({n: i}), priority: i % 4 === 0 ? 10 : 0});
  }
  batch.push({payload_json: JSON.stringify({n: 'late'}), delay_ms: 1500});
  const enqueued = await call(queues, 'Enqueue', {queue, messages: batch});
  check(enqueued.message_ids.length === 21, `enqueue returned ${enqueued.message_ids.length} ids`);
  console.log(`enqueued ${enqueued.message_ids.length}`);

  // The five priority-10 messages come first.
  const first = await dequeue(worker.id, 5, 0);
  check(first.length === 5, `first dequeue leased ${first.length}`);
  check(first.every((m) => m.priority === 10), 'high-priority messages were not first');

  // A nacked message is visible again at once with its read count raised.
  const nacked = await call(queues, 'Nack', {queue, receipts: [first[0].receipt]});
  check(nacked.results[0] === 'RECEIPT_RESULT_OK', `nack: ${nacked.results[0]}`);
  const acked = new Set();
  const firstResults = await ack(first.slice(1).map((m) => m.receipt));
  check(firstResults.every((r) => r === 'RECEIPT_RESULT_OK'), `ack: ${firstResults}`);
  first.slice(1).forEach((m) => acked.add(m.payload_json));

  let again = null;
  while (acked.size < 20) {
    const messages = await dequeue(worker.id, 8, 500);
    check(messages.length > 0, `queue ran dry after ${acked.size} acks`);
    for (const m of messages) {
      check(JSON.parse(m.payload_json).n !== 'late', 'the delayed message came before its delay');
      check(!acked.has(m.payload_json), `message ${m.id} was delivered after its ack`);
      if (m.id === first[0].id) again = m;
    }
    const results = await ack(messages.map((m) => m.receipt));
    check(results.every((r) => r === 'RECEIPT_RESULT_OK'), `ack: ${results}`);
    messages.forEach((m) => acked.add(m.payload_json));
  }
  check(again !== null && again.read_count === 2,
      `nacked message redelivered with read_count ${again && again.read_count}`);

  // A stale receipt is refused by itself.
  const stale = await ack([first[1].receipt]);
  check(stale[0] !== 'RECEIPT_RESULT_OK', 'an acked receipt was acked again');

  // The delayed message arrives once its delay has passed (long-poll).
  const late = await dequeue(worker.id, 1, 5000);
  check(late.length === 1 && JSON.parse(late[0].payload_json).n === 'late',
      'the delayed message did not arrive');
  await ack([late[0].receipt]);

  const stats = await call(queues, 'QueueStats', {queue});
  check(stats.pending === '0' && stats.in_flight === '0' && stats.delayed === '0',
      `stats after draining: ${JSON.stringify(stats)}`);
  check(stats.archived === '21', `archived ${stats.archived}, expected 21`);
  await call(workers, 'ShutdownWorker', {worker_id: worker.id});
  console.log(`consumed 21 messages, stats ${JSON.stringify(stats)}`);
}

main().then(() => process.exit(0), (err) => {
  console.error(`FAIL: ${err.message}`);
  process.exit(1);
});
