import type { WebClient } from '@slack/web-api';
import { IntegrationError } from '../errors.js';
import { withTimeout } from '../api-retirement/timeout.js';

/** Who is in a Slack user group. */
export interface Directory {
  membersOf(usergroup: string): Promise<string[]>;
}

/**
 * `usergroups.users.list` is Tier 2 (about 20 a minute), so members are cached briefly
 * and concurrent look-ups of one group share a single call.
 */
export class SlackDirectory implements Directory {
  private readonly cache = new Map<string, { at: number; members: Promise<string[]> }>();

  constructor(
    private readonly client: WebClient,
    private readonly ttlMs = 60_000,
  ) {}

  membersOf(usergroup: string): Promise<string[]> {
    const hit = this.cache.get(usergroup);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.members;
    const members = this.client.usergroups.users
      .list({ usergroup })
      .then((res) => res.users ?? [])
      .catch((err: unknown) => {
        this.cache.delete(usergroup);
        throw new IntegrationError(
          'slack',
          `Could not read the members of user group ${usergroup} from Slack.`,
          {
            retryable: true,
            cause: err,
            hint: 'Check that the app has the usergroups:read scope (`backout doctor`).',
          },
        );
      });
    this.cache.set(usergroup, { at: Date.now(), members });
    return members;
  }
}

/** What people are called in Slack, for text read outside it (a GitHub release banner). */
export interface People {
  /**
   * The user's display name (their real name when they set none); undefined when Slack does
   * not say within the deadline, or the user is unknown: callers then name the user by id.
   */
  displayName(user: string): Promise<string | undefined>;
}

const NAME_DEADLINE_MS = 3_000;

interface UserInfoAnswer {
  user?: { real_name?: string; profile?: { display_name?: string; real_name?: string } };
}

/** `users.info` (Tier 4), bounded by a deadline so a slow Slack never holds up a job. */
export class SlackPeople implements People {
  constructor(
    private readonly client: Pick<WebClient, 'users'>,
    private readonly deadlineMs = NAME_DEADLINE_MS,
  ) {}

  async displayName(user: string): Promise<string | undefined> {
    try {
      const answer = (await withTimeout(
        this.client.users.info({ user }),
        this.deadlineMs,
        'Slack users.info',
      )) as UserInfoAnswer;
      const u = answer.user;
      const name = [u?.profile?.display_name, u?.profile?.real_name, u?.real_name]
        .map((n) => n?.trim())
        .find(Boolean);
      return name || undefined;
    } catch {
      // Refused, unknown or too slow: the caller names the user by id.
      return undefined;
    }
  }
}
