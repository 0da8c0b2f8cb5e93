"""Every Redis key name ieum uses, in one place (arq keeps its names in `arq/constants.py`).

A person's keys all carry the hash tag `{u:<user_key>}` so that on a Redis Cluster they share a
slot and multi-key transactions keep working. `user_key` is `<channel>:<channel user id>`.
Sections below belong to one package each; add keys in your package's section only.
"""

from __future__ import annotations

PREFIX = "ieum"


def user_tag(user_key: str) -> str:
    return f"{{u:{user_key}}}"


def user_pattern(user_key: str) -> str:
    """SCAN pattern for every per-person key (used by /delete)."""
    tag = user_tag(user_key).replace("[", "\\[").replace("]", "\\]").replace("*", "\\*")
    return f"{PREFIX}:{tag}:*"


# --- storage: profiles, conversation state, dedup -------------------------------------------
def profile(user_key: str) -> str:
    return f"{PREFIX}:{user_tag(user_key)}:profile"


def moods(user_key: str) -> str:
    """Sorted set: member `<iso ts>|<mood>`, score = unix time."""
    return f"{PREFIX}:{user_tag(user_key)}:moods"


def last_seen(user_key: str) -> str:
    """When the person last sent anything (unix time): outreach tells silence from calm chatting."""
    return f"{PREFIX}:{user_tag(user_key)}:last_seen"


def conversation_state(user_key: str) -> str:
    return f"{PREFIX}:{user_tag(user_key)}:state"


def pending_talk_request(user_key: str) -> str:
    return f"{PREFIX}:{user_tag(user_key)}:talk_request"


def risk_window(user_key: str) -> str:
    """List of recent assessment signals (JSON, no text) for conversation context."""
    return f"{PREFIX}:{user_tag(user_key)}:risk_window"


def recent_replies(user_key: str) -> str:
    return f"{PREFIX}:{user_tag(user_key)}:recent_replies"


def all_users() -> str:
    """Set of every user_key that has a profile (for scheduling and outreach scans)."""
    return f"{PREFIX}:users"


def dedup(channel: str, update_id: str | int) -> str:
    return f"{PREFIX}:dedup:{channel}:{update_id}"


def short_code_index() -> str:
    """Hash: pseudonymous short code -> user_key (what counsellors see instead of an account)."""
    return f"{PREFIX}:short_codes"


# --- bot: inbox streams (updates made durable before they are handled) -----------------------
def inbox_tag(shard: int) -> str:
    """Hash tag of one inbox shard: its stream, seen-markers and lease share a cluster slot,
    so deduplication and the append run in one atomic script even on a Redis Cluster."""
    return f"{{inbox:{shard}}}"


def inbox_stream(shard: int) -> str:
    """Stream of raw updates of the chats hashed to `shard`, consumed in order by one process."""
    return f"{PREFIX}:{inbox_tag(shard)}:stream"


def inbox_seen(shard: int, channel: str, update_id: str | int) -> str:
    """Marker (with a TTL) that an update was taken in; ids can jump, so not a high-water mark."""
    return f"{PREFIX}:{inbox_tag(shard)}:seen:{channel}:{update_id}"


def inbox_lease(shard: int) -> str:
    """Which process consumes `shard` right now (SET NX PX, renewed while it works)."""
    return f"{PREFIX}:{inbox_tag(shard)}:lease"


def inbox_members() -> str:
    """Sorted set: live inbox consumers (score = last heartbeat, ms), for sharing out the shards."""
    return f"{PREFIX}:inbox:members"


def inbox_unsent(user_key: str, update_id: str | int) -> str:
    """Replies computed for an update but not yet sent (short TTL): a retry sends these instead of
    running the turn a second time. The person's key: the replies may hold their nickname, so
    /delete takes them with the rest."""
    return f"{PREFIX}:{user_tag(user_key)}:unsent:{update_id}"


def inbox_dead_letter() -> str:
    """Stream of updates that failed for good (after retries), for an operator to inspect."""
    return f"{PREFIX}:inbox:dead"


# --- outbox -----------------------------------------------------------------------------------
OUTBOX_GROUP = "senders"


def outbox_lane(priority: int) -> str:
    """Stream of queued deliveries for one priority lane (0 = crisis, read first)."""
    return f"{PREFIX}:outbox:lane:{priority}"


def outbox_dead() -> str:
    """Dead-letter stream: deliveries that failed for good (shown by `ieum cases list`)."""
    return f"{PREFIX}:outbox:dead"


def outbox_idempotency(key: str) -> str:
    return f"{PREFIX}:outbox:key:{key}"


def outbox_ref(ref: str) -> str:
    """A delivered message's id (or a created topic's thread id) under the producer's ref."""
    return f"{PREFIX}:outbox:ref:{ref}"


def outbox_reverse_ref(chat_id: str, kind: str, ident: int | str) -> str:
    """(chat, message or thread id) -> the producer's ref; kind is `m` (message) or `t` (thread)."""
    return f"{PREFIX}:outbox:rev:{chat_id}:{kind}:{ident}"


def outbox_attempts() -> str:
    """Hash: `<lane>:<entry id>` -> failed attempts so far (survives a consumer's death)."""
    return f"{PREFIX}:outbox:attempts"


def outbox_health(consumer: str) -> str:
    return f"{PREFIX}:outbox:health:{consumer}"


def outbox_no_forum(chat_id: str) -> str:
    """Set when createForumTopic failed for good in this chat: send plain messages there."""
    return f"{PREFIX}:outbox:noforum:{chat_id}"


# --- escalation -------------------------------------------------------------------------------
def case_tag(case_id: str) -> str:
    return f"{{case:{case_id}}}"


def case(case_id: str) -> str:
    """Hash: one case (status, level, timestamps, assignee, reasons; no message text)."""
    return f"{PREFIX}:{case_tag(case_id)}"


def case_texts(case_id: str) -> str:
    """Hash: trigger excerpts of a case, kept while it is open and given a TTL when it closes."""
    return f"{PREFIX}:{case_tag(case_id)}:texts"


def case_audit(case_id: str) -> str:
    """List: every action on a case (who, what, when), as JSON."""
    return f"{PREFIX}:{case_tag(case_id)}:audit"


def case_seq() -> str:
    return f"{PREFIX}:cases:seq"


def case_queue() -> str:
    """Sorted set of cases not yet closed: score = priority rank * 1e11 + opened (unix s)."""
    return f"{PREFIX}:cases:queue"


def cases_all() -> str:
    """Sorted set of every case by opened time (for `ieum cases list --status` and stats)."""
    return f"{PREFIX}:cases:all"


def case_sla() -> str:
    """Sorted set: case id -> unix time its next SLA step is due (survives restarts)."""
    return f"{PREFIX}:cases:sla"


def case_update(channel: str, update_id: str | int) -> str:
    """Marker: this update was already recorded on a case (record() is idempotent per update)."""
    return f"{PREFIX}:cases:update:{channel}:{update_id}"


def open_case(user_key: str) -> str:
    """The person's one open case id (new triggers attach to it)."""
    return f"{PREFIX}:{user_tag(user_key)}:open_case"


def user_cases(user_key: str) -> str:
    """Set of every case id of this person (for /delete)."""
    return f"{PREFIX}:{user_tag(user_key)}:cases"


def handoff(user_key: str) -> str:
    """Case id while a counsellor is talking with this person (the companion stays quiet)."""
    return f"{PREFIX}:{user_tag(user_key)}:handoff"


def outreach_mark(user_key: str) -> str:
    """Unix time of the signal the last outreach case answered (one outreach per episode)."""
    return f"{PREFIX}:{user_tag(user_key)}:outreach"


def counsellor_signature(counsellor_id: str) -> str:
    """The first name or role a counsellor signs relayed messages with."""
    return f"{PREFIX}:counsellor:{counsellor_id}:signature"


# --- scheduling -------------------------------------------------------------------------------
def scheduler_lease() -> str:
    """The scheduler leader's lease: a token with a TTL the leader renews (SET NX PX)."""
    return f"{PREFIX}:sched:leader"


def scheduler_due() -> str:
    """Sorted set of due work (member = work item id, score = unix time it is due)."""
    return f"{PREFIX}:sched:due"


def scheduler_fired(item: str) -> str:
    """Marker that one firing of a work item (a reminder, an announcement) completed."""
    return f"{PREFIX}:sched:fired:{item}"


def scheduler_replan() -> str:
    """Set of user_keys whose check-in plan must be recomputed (profile changed)."""
    return f"{PREFIX}:sched:replan"


def checkin_plan(user_key: str) -> str:
    """Hash: a person's next check-in slot, the unanswered counter and back-off state."""
    return f"{PREFIX}:{user_tag(user_key)}:checkin"


def activity_tag(activity_id: str) -> str:
    """Hash tag so an activity and its answers share a cluster slot (atomic RSVP scripts)."""
    return f"{{a:{activity_id}}}"


def activity(activity_id: str) -> str:
    return f"{PREFIX}:{activity_tag(activity_id)}:act"


def activity_pattern() -> str:
    """SCAN pattern for every activity key (answers included), for erasure."""
    return f"{PREFIX}:{{a:*"


def activities_index() -> str:
    """Sorted set: activity id -> start (unix time) of its next occurrence."""
    return f"{PREFIX}:acts"


def activity_seq() -> str:
    return f"{PREFIX}:act_seq"


def activity_rsvps(activity_id: str, occurrence: int) -> str:
    """Hash: user_key -> answer, for one occurrence of an activity."""
    return f"{PREFIX}:{activity_tag(activity_id)}:rsvp:{occurrence}"


def activity_waitlist(activity_id: str, occurrence: int) -> str:
    """Sorted set: user_key -> time they asked to be on the waiting list."""
    return f"{PREFIX}:{activity_tag(activity_id)}:wait:{occurrence}"


def staff_flow(staff_id: str) -> str:
    """Hash: a staff member's guided activity-creation flow in progress (step and answers)."""
    return f"{PREFIX}:staff_flow:{staff_id}"


def scheduler_deferred() -> str:
    """Sorted set of fan-out messages held back during someone's quiet hours (score = when to send)."""
    return f"{PREFIX}:sched:deferred"
