/// <reference types="node" />
import type { ChildProcess } from 'node:child_process';

export interface StartOptions {
  /** A scenario: a path to a YAML file, or the YAML text itself (any string with a newline). Default: accept everything. */
  scenario?: string;
  /** Offer STARTTLS with a development CA made for this server; its path is `caFile`. */
  tls?: boolean;
  /** Path of the mailfault binary. Default: the platform package, then MAILFAULT_BIN, then PATH. */
  binary?: string;
  /** Where `tls: true` keeps its certificates (default: a fresh temporary directory). */
  certsDir?: string;
  /** Extra `mailfault serve` flags, e.g. `["--store", "maildir:/tmp/mail"]`. */
  args?: string[];
  /** Extra environment for the server process. */
  env?: Record<string, string>;
  /** Milliseconds to wait for the server to be ready (default 15000). */
  startTimeout?: number;
}

export interface Address {
  Name: string;
  Address: string;
}

/** A message in Mailpit's list shape, plus mailfault's envelope facts. */
export interface MessageSummary {
  ID: string;
  MessageID: string;
  Read: boolean;
  From: Address | null;
  To: Address[];
  Cc: Address[];
  Bcc: Address[];
  ReplyTo: Address[];
  Subject: string;
  Created: string;
  Size: number;
  Attachments: number;
  Snippet: string;
  Tags: string[];
  SessionID: number;
  Envelope: { From: string; To: string[] };
  TLS: unknown;
  [key: string]: unknown;
}

/** A message in full (GET /api/v1/message/{ID}). */
export interface Message {
  ID: string;
  Subject: string;
  From: Address | null;
  To: Address[];
  Text: string;
  HTML: string;
  [key: string]: unknown;
}

export interface SessionSummary {
  id: number;
  client: string;
  open: boolean;
  started_at: string;
  ended_at: string | null;
  messages: string[];
  [key: string]: unknown;
}

export interface Evidence {
  session: number;
  at: string;
  line: string;
  why: string;
}

export interface Verdict {
  name: string;
  passed: boolean;
  expected: string;
  found: string;
  evidence: Evidence[];
}

export interface Report {
  passed: boolean;
  verdicts: Verdict[];
  summary: {
    sessions: number;
    messages: number;
    passed: number;
    failed: number;
    not_judged: string[];
    [key: string]: unknown;
  };
  /** The verdicts that failed. */
  readonly failed: Verdict[];
  /** Throws an AssertionError (node:assert) listing each failed verdict with its evidence. */
  assertPassed(): void;
}

export declare class Mailfault {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Always 127.0.0.1. */
  readonly smtpHost: string;
  readonly smtpPort: number;
  /** smtp://127.0.0.1:PORT */
  readonly smtpUrl: string;
  /** http://127.0.0.1:PORT (no trailing slash) */
  readonly apiUrl: string;
  /** The development CA to trust when started with `tls: true`. */
  readonly caFile: string | undefined;
  readonly binary: string;
  messages(options?: { start?: number; limit?: number }): Promise<MessageSummary[]>;
  message(id?: string): Promise<Message>;
  search(query: string): Promise<MessageSummary[]>;
  /** Resolves with the newest message matching a Mailpit search (`to:a@b subject:"Reset"`); rejects after `timeout` ms (default 10000). */
  waitForMessage(query?: string, options?: { timeout?: number; interval?: number }): Promise<MessageSummary>;
  sessions(): Promise<SessionSummary[]>;
  session(id: number | string): Promise<Record<string, unknown>>;
  /** YAML text, or a path to a YAML file. Rejects with the line and column of every problem. */
  setScenario(scenario: string): Promise<{ epoch: number; name: string; rules: number }>;
  reset(): Promise<unknown>;
  /** "5m", "30s", or milliseconds. Only for `clock: virtual` scenarios. */
  advanceClock(by: string | number): Promise<{ clock: string; now: string; now_ms: number }>;
  /** Waits up to `settle` ms (default 2000) for open SMTP sessions to end, then fetches the verdicts. */
  report(options?: { settle?: number }): Promise<Report>;
  stop(options?: { timeout?: number }): Promise<void>;
}

export declare function startMailfault(options?: StartOptions): Promise<Mailfault>;
/** The binary startMailfault would run; throws saying what was tried. */
export declare function findBinary(explicit?: string): string;
/** The text assertPassed() throws. */
export declare function formatReport(report: Report): string;
