/**
 * The one way the front end talks to the tracker REST endpoints (docs/jupyter.md, "REST endpoints").
 *
 * Every request goes through `requestAPI<T>()`, a thin wrapper over `ServerConnection.makeRequest`
 * (it adds the base URL, the token or XSRF cookie of the Jupyter page, and turns the endpoint's
 * `{"error", "type"}` answers and network failures into a `TrackerAPIError`). Callers catch that and
 * show it; nothing here throws anything else.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { IProjectsReply, IRunsReply } from './model';

export type { IProject, IProjectsReply, IRun, IRunsReply } from './model';

/** The endpoints' root under the server's base URL. */
export const API_ROOT = 'tracker/api';

/** What went wrong with a request: the endpoint's own error, a bad answer, or no answer at all. */
export class TrackerAPIError extends Error {
  constructor(
    message: string,
    readonly status: number = 0,
    readonly type: string = ''
  ) {
    super(message);
    this.name = 'TrackerAPIError';
  }
}

export type Params = Record<string, string | number | boolean | undefined | null>;

/** `a/b c` -> `a/b%20c`: a project or run id as one URL path segment each. */
export function segments(...parts: string[]): string {
  return parts.map(p => encodeURIComponent(p)).join('/');
}

/** The query string of `params`, leaving out empty values (`?` included, or ''). */
export function queryString(params: Params = {}): string {
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') {
      continue;
    }
    pairs.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  }
  return pairs.length ? `?${pairs.join('&')}` : '';
}

/** The full URL of an endpoint path (already encoded segments) with its query. */
export function apiURL(path: string, params: Params = {}, settings?: ServerConnection.ISettings): string {
  const base = (settings ?? ServerConnection.makeSettings()).baseUrl;
  return URLExt.join(base, API_ROOT, path) + queryString(params);
}

let _settings: ServerConnection.ISettings | null = null;

function settings(): ServerConnection.ISettings {
  return (_settings ??= ServerConnection.makeSettings());
}

/**
 * GET `tracker/api/<path>?<params>` and parse its JSON answer as `T`.
 *
 * Rejects only with a `TrackerAPIError` (status 0 when the server could not be reached).
 */
export async function requestAPI<T>(path: string, params: Params = {}, init: RequestInit = {}): Promise<T> {
  const url = apiURL(path, params, settings());
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, { method: 'GET', ...init }, settings());
  } catch (error) {
    throw new TrackerAPIError(`the Jupyter server could not be reached (${String(error)})`, 0, 'NetworkError');
  }
  const text = await response.text().catch(() => '');
  let data: any = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    if (data && typeof data.error === 'string') {
      throw new TrackerAPIError(data.error, response.status, String(data.type ?? ''));
    }
    const hint =
      response.status === 404 && !data
        ? ' (is the tracker server extension enabled and up to date?)'
        : '';
    throw new TrackerAPIError(`${path}: HTTP ${response.status} ${response.statusText}${hint}`, response.status);
  }
  if (data === null) {
    throw new TrackerAPIError(`${path}: the answer is not JSON`, response.status, 'BadResponse');
  }
  return data as T;
}

/** A URL the endpoints gave (a media item's `url`) made loadable from this page. */
export function resolveURL(url: string): string {
  if (/^[a-z]+:/i.test(url) || url.startsWith('/')) {
    return url;
  }
  return URLExt.join(settings().baseUrl, API_ROOT, url);
}

// ---- typed endpoints ----------------------------------------------------------------------------

export interface IHistorySeries {
  x: (number | null)[];
  y: (number | null)[];
  step?: number[];
  n?: number;
}

export interface IHistoryReply {
  x_axis: string;
  series: Record<string, IHistorySeries>;
}

export interface ILogLine {
  line: number;
  time: number | null;
  stream: string;
  text: string;
}

export interface IMediaItem {
  key: string;
  step: number | null;
  kind: string;
  caption?: string | null;
  record?: unknown;
  url: string;
}

export interface IRunDetail {
  project: string;
  id: string;
  name: string;
  state: string;
  created_at: number | null;
  heartbeat_at: number | null;
  duration: number | null;
  last_step: number | null;
  tags: string[];
  notes: string | null;
  group: string | null;
  job_type: string | null;
  host: string | null;
  user: string | null;
  config: Record<string, unknown>;
  summary: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  keys?: { scalars?: Record<string, number>; system?: Record<string, number> };
}

export const api = {
  projects: () => requestAPI<IProjectsReply>('projects'),
  runs: (project: string, params: { filter?: string; sort?: string; since?: number; limit?: number } = {}) =>
    requestAPI<IRunsReply>(`projects/${segments(project)}/runs`, params),
  run: (project: string, id: string) => requestAPI<IRunDetail>(`runs/${segments(project, id)}`),
  history: (project: string, id: string, keys: string[], samples = 500) =>
    requestAPI<IHistoryReply>(`runs/${segments(project, id)}/history`, { keys: keys.join(','), samples }),
  logs: (project: string, id: string, tail = 1000) =>
    requestAPI<{ lines: ILogLine[] }>(`runs/${segments(project, id)}/logs`, { tail }),
  media: (project: string, id: string) =>
    requestAPI<{ items: IMediaItem[] }>(`runs/${segments(project, id)}/media`)
};
