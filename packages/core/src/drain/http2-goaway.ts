import { type Http2Session, constants as http2Constants } from 'node:http2';
import { type Conn, now } from './connections.js';

/**
 * Ends an HTTP/2 session without refusing a stream the client sent before it learnt of the end,
 * in two phases as Envoy does: a first GOAWAY with the highest stream id announces it (a client
 * opens no new stream after it, and every stream already on its way is still served), then the
 * final GOAWAY (node's close()) names the last stream processed. The final one follows once no
 * new stream has come for GOAWAY_QUIET_MS (the client has read the first one: a busy client
 * reads it late), at the latest after `latestMs`. Not after a PING's answer: node delivers no
 * PING answer once a GOAWAY went out.
 *
 * The first GOAWAY waits until the client has caught up (see announceWhenCaughtUp): a client
 * that reads a response's end and the GOAWAY in one read opens its next stream in answer to the
 * end, then drops it unsent on reading the GOAWAY and reports it refused (nghttp2 does).
 */
export function closeSession(conn: Conn, latestMs: number): void {
  const session = conn.handle as Http2Session;
  if (session.closed || session.destroyed || announced.has(session)) return;
  announced.add(session);
  announceWhenCaughtUp(conn, Math.min(CATCH_UP_LATEST_MS, latestMs / 4), () => {
    if (session.closed || session.destroyed) return;
    try {
      session.goaway(http2Constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
    } catch {
      // destroyed meanwhile: nothing left to end
      return;
    }
    const announcedAt = now();
    const check = setInterval(() => {
      const quietSince = Math.max(announcedAt, conn.lastStreamAt ?? 0);
      const t = now();
      if (t - quietSince < GOAWAY_QUIET_MS && t - announcedAt < latestMs) return;
      clearInterval(check);
      if (!session.closed && !session.destroyed) session.close();
    }, GOAWAY_QUIET_MS / 4);
    check.unref();
    session.once('close', () => clearInterval(check));
  });
}

/**
 * Calls `announce` once the client has read everything the session sent: a PING's answer comes
 * after the client read all that preceded the PING, so when no stream ended while the PING was
 * on its way, nothing the client has yet to read ends a stream. Otherwise it pings again; after
 * `latestMs`, or when the session cannot ping, it announces anyway.
 */
function announceWhenCaughtUp(conn: Conn, latestMs: number, announce: () => void): void {
  const session = conn.handle as Http2Session;
  const startedAt = now();
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    clearTimeout(latest);
    announce();
  };
  const latest = setTimeout(finish, latestMs);
  latest.unref();
  const ping = () => {
    const endedBefore = conn.streamsEnded ?? 0;
    let sent = false;
    try {
      sent = session.ping((error) => {
        if (done) return;
        if (error || (conn.streamsEnded ?? 0) === endedBefore || now() - startedAt >= latestMs) {
          finish();
        } else {
          ping();
        }
      });
    } catch {
      // closed or destroyed meanwhile
    }
    if (!sent) finish();
  };
  ping();
}

const MAX_STREAM_ID = 2 ** 31 - 1;
/** The first GOAWAY waits at most this long for the client to catch up; at most latestMs/4. */
const CATCH_UP_LATEST_MS = 250;
/** No new stream for this long after the first GOAWAY: the client has read it. */
const GOAWAY_QUIET_MS = 1000;
/** The final GOAWAY comes at the latest this long after the first; at most a quarter of the deadline. */
export const GOAWAY_FINAL_LATEST_MS = 2000;
/** Sessions already told of the end. */
const announced = new WeakSet<Http2Session>();
