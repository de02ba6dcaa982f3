// Clients that pipeline requests and never read: the memory they can make the responder hold is bounded.
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect, type Socket } from 'node:net'
import { test } from 'node:test'
import { get, startCli, tcpStates, tempDir, waitFor } from './helpers.js'
import { addresses } from './siege.js'

const HOST = '127.0.14.1'
/** 64 KB of tiny requests, one node:http read: about 2,500 answers asked for at once. */
const BURST = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(Math.floor(65536 / 27))

/** The largest resident size the process has had, from the kernel (VmHWM), in MB. */
const peakMb = (pid: number): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024

for (const [where, from] of [['one address', ['127.0.15.1']], ['250 addresses', addresses(16, 250)]] as const) {
  test(`1,000 connections from ${where} pipeline 64 KB each and never read: peak RSS stays under 250 MB, the process answers`, async (t) => {
    // The heap a 512 MB host gets by default is about 256 MB: the attack used to end in "heap out of memory".
    const cli = await startCli(['--listen', `${HOST}:0`, '--challenge-dir', tempDir(t), '--max-connections', '10000'], { NODE_OPTIONS: '--max-old-space-size=256' })
    t.after(() => cli.child.kill('SIGKILL'))
    const pid = cli.child.pid ?? 0
    const sockets: Socket[] = []
    t.after(() => { for (const s of sockets) s.destroy() })
    let sent = 0
    for (let i = 0; i < 1000; i++) {
      const s = connect({ port: cli.port, host: HOST, localAddress: from[i % from.length] })
      s.on('error', () => {})
      // Never read: the answers can only pile up in the responder.
      s.pause()
      s.on('connect', () => { s.write(BURST, () => { sent++ }) })
      sockets.push(s)
    }
    await waitFor(() => sent === 1000, 'every burst to be sent', 60_000, () => ` (${sent} sent)`)
    // The process is alive and answers a newcomer while the attackers still hold whatever they hold.
    const a = await get({ host: HOST, port: cli.port, localAddress: '127.0.17.1' }, '/', { host: 'www.example.com' })
    assert.equal(a.status, 503)
    assert.equal(cli.child.exitCode, null, `the process died: ${cli.stderr}`)
    const peak = peakMb(pid)
    assert.ok(peak <= 250, `peak RSS ${peak.toFixed(0)} MB`)
    t.diagnostic(`peak RSS ${peak.toFixed(0)} MB`)
  })
}

test('a connection closed for answers it never reads is reset: no socket is left holding them in the kernel', async (t) => {
  const dir = tempDir(t)
  // Large answers, few requests: node:http reads all of them, so nothing unread makes the kernel reset on its own.
  const page = join(dir, 'page.html')
  writeFileSync(page, `<p>${'x'.repeat(1000 * 1000)}</p>`)
  const cli = await startCli(['--listen', `${HOST}:0`, '--challenge-dir', dir, '--maintenance-page', page])
  t.after(() => cli.child.kill('SIGKILL'))
  const s = connect({ port: cli.port, host: HOST, localAddress: '127.0.18.1' })
  t.after(() => s.destroy())
  s.on('error', () => {})
  s.pause()
  await new Promise((resolve) => s.on('connect', resolve))
  const clientPort = s.localPort ?? 0
  s.write('GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n'.repeat(40))
  // The client's side leaves ESTABLISHED when the responder closes: CLOSE after a reset, CLOSE_WAIT after a FIN.
  // After a FIN queued behind the unread answers, the client never sees it; the responder's side shows 04, FIN_WAIT1.
  await waitFor(() => !tcpStates(clientPort, cli.port).includes('01'), 'the responder to close it', 20_000,
    () => ` (the responder's side: ${tcpStates(cli.port, clientPort).join(', ') || 'gone'})`)
  assert.deepEqual(tcpStates(cli.port, clientPort), [], 'the responder\'s side is gone')
  assert.equal(cli.child.exitCode, null)
})
