import type { IncomingMessage } from 'node:http';

/** What an adapter hands over of a request: no body, which is never read. */
export interface AdminRequest {
  method: string;
  /** The URL's path, without the query. */
  path: string;
  /** The value of `wait` in the query string, if any. */
  wait?: string | null | undefined;
  /** Several values when the request repeated the header (refused: 400). */
  authorization?: string | string[] | undefined;
  forwardedFor?: string | undefined;
  remoteAddress?: string | undefined;
}

/** The Authorization header, or every value of it when the request repeated it. */
function authorizationOf(req: IncomingMessage): string | string[] | undefined {
  const values: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]?.toLowerCase() === 'authorization')
      values.push(req.rawHeaders[i + 1] ?? '');
  }
  return values.length > 1 ? values : values[0];
}

/** The AdminRequest of a node:http request (express's and koa's are node requests too). */
export function fromNode(
  req: IncomingMessage,
  url = new URL(req.url ?? '/', 'http://localhost'),
): AdminRequest {
  const forwarded = req.headers['x-forwarded-for'];
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    wait: url.searchParams.get('wait'),
    authorization: authorizationOf(req),
    forwardedFor: Array.isArray(forwarded) ? forwarded.join(',') : forwarded,
    remoteAddress: req.socket.remoteAddress,
  };
}
