import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { IntegrationError, PolicyError } from '../errors.js';

/** The workspace (and Enterprise Grid org) backout is installed in, from `auth.test`. */
export interface Installation {
  teamId: string;
  enterpriseId?: string;
}

/** Where a payload says its user comes from (`user.team_id`, `team.id`, `enterprise.id`). */
export interface ClaimedOrigin {
  teamId?: string | undefined;
  enterpriseId?: string | undefined;
}

/** What a request or approval is for: users named explicitly there may act even as guests. */
export type Role = 'request' | 'approve';

export interface Membership {
  /** Refuses a payload from another workspace (Slack Connect) before anything else happens. */
  checkOrigin(user: string, claimed: ClaimedOrigin): Promise<void>;
  /**
   * Refuses a user who is not a full member of the installing workspace — a guest, an external
   * (Slack Connect) or deactivated account — unless `named` lists them by ID.
   */
  checkMember(user: string, role: Role, named: readonly string[]): Promise<void>;
}

const userInfo = z.object({
  user: z.object({
    id: z.string(),
    team_id: z.string().optional(),
    deleted: z.boolean().optional(),
    is_restricted: z.boolean().optional(),
    is_ultra_restricted: z.boolean().optional(),
    is_stranger: z.boolean().optional(),
    enterprise_user: z.object({ enterprise_id: z.string().optional() }).optional(),
  }),
});
type UserInfo = z.infer<typeof userInfo>['user'];

const authTest = z.object({ team_id: z.string(), enterprise_id: z.string().optional() });

const NEXT =
  'Ask a full member of this workspace who is an approver to act instead, or ask an admin to name you in the policy of this service in backout.yml.';

/**
 * Workspace membership from Slack itself: `auth.test` once (the installation, cached for
 * the process's life, retried after a failure), `users.info` per user (Tier 4, cached with a
 * TTL so a guest's promotion or an account's deactivation is seen within minutes).
 */
export class SlackMembership implements Membership {
  private installation: Promise<Installation> | undefined;
  private readonly users = new Map<string, { at: number; info: Promise<UserInfo> }>();

  constructor(
    private readonly client: WebClient,
    private readonly ttlMs = 5 * 60_000,
  ) {}

  /** The installation, asked once at start-up; a failed look-up is asked again next time. */
  installed(): Promise<Installation> {
    this.installation ??= this.client
      .apiCall('auth.test')
      .then((res) => {
        const parsed = authTest.parse(res);
        return {
          teamId: parsed.team_id,
          ...(parsed.enterprise_id ? { enterpriseId: parsed.enterprise_id } : {}),
        };
      })
      .catch((err: unknown) => {
        this.installation = undefined;
        throw new IntegrationError(
          'slack',
          'Could not confirm which workspace backout is installed in (auth.test failed), so nothing was changed.',
          {
            retryable: true,
            cause: err,
            hint: 'Try again in a moment; `backout doctor` checks the Slack token.',
          },
        );
      });
    return this.installation;
  }

  async checkOrigin(user: string, claimed: ClaimedOrigin): Promise<void> {
    const home = await this.installed();
    if (claimed.teamId === undefined && claimed.enterpriseId === undefined) return;
    if (sameOrg(home, claimed.teamId, claimed.enterpriseId)) return;
    throw new PolicyError(
      `<@${user}> belongs to another workspace (${claimed.teamId ?? claimed.enterpriseId}); only members of the workspace backout is installed in can request or approve. Nothing was changed.`,
      { hint: NEXT },
    );
  }

  async checkMember(user: string, role: Role, named: readonly string[]): Promise<void> {
    const [home, info] = await Promise.all([this.installed(), this.info(user)]);
    const what = role === 'approve' ? 'approve' : 'file requests';
    if (info.deleted) {
      throw new PolicyError(
        `<@${user}>'s account is deactivated, so it cannot ${what}. Nothing was changed.`,
      );
    }
    if (named.includes(user)) return;
    const external =
      info.is_stranger === true || !sameOrg(home, info.team_id, info.enterprise_user?.enterprise_id);
    if (external) {
      throw new PolicyError(
        `You are in this channel from another organisation (Slack Connect), so you cannot ${what} here unless the policy names you. Nothing was changed.`,
        { hint: NEXT },
      );
    }
    if (info.is_restricted || info.is_ultra_restricted) {
      throw new PolicyError(
        `Guest accounts cannot ${what} here unless the policy names them. Nothing was changed.`,
        { hint: NEXT },
      );
    }
  }

  private info(user: string): Promise<UserInfo> {
    const hit = this.users.get(user);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.info;
    const info = this.client.users
      .info({ user })
      .then((res) => userInfo.parse(res).user)
      .catch((err: unknown) => {
        this.users.delete(user);
        throw new IntegrationError(
          'slack',
          `Could not look up <@${user}> in Slack, so nothing was changed.`,
          {
            retryable: true,
            cause: err,
            hint: 'Try again in a moment; the app needs the users:read scope (`backout doctor`).',
          },
        );
      });
    this.users.set(user, { at: Date.now(), info });
    return info;
  }
}

function sameOrg(home: Installation, teamId: string | undefined, enterpriseId: string | undefined): boolean {
  if (teamId !== undefined && teamId === home.teamId) return true;
  // An org-wide (Enterprise Grid) install serves every workspace of the org.
  return home.enterpriseId !== undefined && enterpriseId === home.enterpriseId;
}
