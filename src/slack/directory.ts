import type { WebClient } from '@slack/web-api';
import { IntegrationError } from '../errors.js';

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
