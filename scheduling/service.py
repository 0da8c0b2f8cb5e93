"""What staff and young people do with activities: create, edit, cancel, answer, list, stats.

Both the Telegram staff router and `ieum activities` call this; neither sends anything itself.
Announcements, reminders and change notices are fired by the scheduler leader from Redis; only
the "a place opened up" notice is queued here, because it follows one person's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as aioredis

from dialogues.messages import QuickReply, Reply
from outbox.types import OutboundMessage, Outbox, Priority
from scheduling import deferred
from scheduling.activities import DEFAULT_REMINDERS_MIN, Activity, ActivityRepository, Notice, Status
from scheduling.checkins import button_rows, split_user_key
from scheduling.rsvp import Answer, Result, RsvpRepository
from scheduling.slots import CheckinSettings, quiet_until
from scheduling.texts import Texts
from storage.profiles import Profile, ProfileRepository

PAYLOAD_PREFIX = "act:"
NEWS_ON = "actnews:on"
NEWS_OFF = "actnews:off"
TIME_FIELDS = ("start", "duration_min", "place")  # a change to these notifies everyone who answered
EDITABLE = ("title", "description", "place", "start", "duration_min", "capacity")
ANSWERS = (Answer.GOING, Answer.MAYBE, Answer.LOOKING, Answer.NO)


@dataclass(frozen=True)
class ActivityStats:
    activity: Activity
    counts: dict[Answer, int]
    coming: tuple[str, ...]  # display names (nickname, else short code)
    maybe: tuple[str, ...]


def rsvp_payload(activity_id: str, answer: Answer) -> str:
    return f"{PAYLOAD_PREFIX}{activity_id}:{answer.value}"


def parse_rsvp_payload(payload: str) -> tuple[str, Answer] | None:
    if not payload.startswith(PAYLOAD_PREFIX):
        return None
    activity_id, _, raw = payload[len(PAYLOAD_PREFIX) :].partition(":")
    try:
        return activity_id, Answer(raw)
    except ValueError:
        return None


class ActivityService:
    def __init__(
        self,
        redis: aioredis.Redis,
        profiles: ProfileRepository,
        outbox: Outbox | None,
        *,
        texts: Texts | None = None,
        tz: str = "Asia/Seoul",
    ) -> None:
        self.redis = redis
        self.profiles = profiles
        self.outbox = outbox
        self.texts = texts or Texts()
        self.tz = tz
        self.repo = ActivityRepository(redis)
        self.rsvps = RsvpRepository(redis)

    # --- formatting ----------------------------------------------------------------------------
    def summary(self, act: Activity, lang: str) -> str:
        return self.texts.get(
            "summary",
            lang,
            title=act.title,
            when=self.texts.when(act.start, self.tz, lang),
            duration=act.duration_min,
            place=act.place or "-",
            description=f"\n{act.description}" if act.description else "",
            recurrence=self.texts.get("recurrence_weekly", lang) if act.weekly else "",
        )

    def buttons(self, act: Activity, lang: str) -> tuple[QuickReply, ...]:
        return tuple(
            QuickReply(self.texts.get(f"rsvp_{a.value}", lang), rsvp_payload(act.id, a)) for a in ANSWERS
        )

    def audience_label(self, act: Activity, lang: str) -> str:
        if act.audience_tag:
            return self.texts.get("audience_tag", lang, tag=act.audience_tag)
        return self.texts.get("audience_all", lang)

    # --- staff ---------------------------------------------------------------------------------
    async def create(
        self,
        *,
        title: str,
        start: datetime,
        now: datetime,
        duration_min: int = 90,
        place: str = "",
        description: str = "",
        capacity: int = 0,
        weekly: bool = False,
        audience_tag: str = "",
        reminders_min: tuple[int, ...] = DEFAULT_REMINDERS_MIN,
        created_by: str = "",
    ) -> Activity:
        """Store a new activity; the leader announces it once to the opted-in audience."""
        act = Activity(
            id="",
            title=title.strip(),
            start=start,
            duration_min=duration_min,
            place=place.strip(),
            description=description.strip(),
            capacity=max(capacity, 0),
            weekly=weekly,
            audience_tag=audience_tag.strip(),
            reminders_min=tuple(sorted(set(reminders_min), reverse=True)),
            created_by=created_by,
            created_at=now.isoformat(),
            changed_at=now.isoformat(),
        )
        return await self.repo.create(act)

    async def edit(self, activity_id: str, now: datetime, **changes: object) -> Activity | None:
        """Change fields; a new time, length or place bumps the version and notifies who answered."""
        act = await self.repo.get(activity_id)
        if act is None or act.status is not Status.SCHEDULED:
            return None
        changes = {k: v for k, v in changes.items() if k in EDITABLE and v is not None}
        moved = any(getattr(act, k) != v for k, v in changes.items() if k in TIME_FIELDS)
        updated = act.replace(**changes)
        if moved:
            updated = updated.replace(
                version=act.version + 1, notice=Notice.MOVED, changed_at=now.isoformat()
            )
        await self.repo.save(updated)
        return updated

    async def cancel(self, activity_id: str, now: datetime) -> Activity | None:
        act = await self.repo.get(activity_id)
        if act is None or act.status is not Status.SCHEDULED:
            return None
        updated = act.replace(
            status=Status.CANCELLED,
            notice=Notice.CANCELLED,
            version=act.version + 1,
            changed_at=now.isoformat(),
        )
        await self.repo.save(updated)
        return updated

    async def stats(self, now: datetime, activity_id: str | None = None) -> list[ActivityStats]:
        if activity_id:
            one = await self.repo.get(activity_id)
            acts = [one] if one else []
        else:
            acts = sorted(await self.repo.all(), key=lambda a: a.start)
        out = []
        for act in acts:
            answers = await self.rsvps.answers(act)
            counts = {a: 0 for a in Answer}
            for answer in answers.values():
                counts[answer] += 1
            coming = [u for u, a in answers.items() if a is Answer.GOING]
            maybe = [u for u, a in answers.items() if a is Answer.MAYBE]
            out.append(
                ActivityStats(act, counts, tuple(await self._names(coming)), tuple(await self._names(maybe)))
            )
        return out

    def format_stats(self, rows: list[ActivityStats], lang: str) -> str:
        if not rows:
            return self.texts.get("stats_empty", lang)
        lines = []
        for row in rows:
            act = row.activity
            lines.append(
                self.texts.get(
                    "stats_line",
                    lang,
                    id=act.id,
                    title=act.title,
                    when=self.texts.when(act.start, self.tz, lang),
                    status=act.status.value,
                    going=row.counts[Answer.GOING],
                    capacity=f"/{act.capacity}" if act.capacity else "",
                    maybe=row.counts[Answer.MAYBE],
                    looking=row.counts[Answer.LOOKING],
                    no=row.counts[Answer.NO],
                    waitlist=row.counts[Answer.WAITLIST],
                    names=", ".join(row.coming) or "-",
                )
            )
        return "\n\n".join(lines)

    async def _names(self, user_keys: list[str]) -> list[str]:
        names = []
        for user_key in sorted(user_keys):
            profile = await self.profiles.get(user_key)
            names.append(profile.display_name if profile else "?")
        return names

    # --- young people --------------------------------------------------------------------------
    async def visible_to(self, profile: Profile, now: datetime) -> list[Activity]:
        return [
            a for a in await self.repo.upcoming(now) if not a.audience_tag or a.audience_tag in profile.tags
        ]

    async def list_for(self, profile: Profile, now: datetime) -> tuple[Reply, ...]:
        """What is coming, each with the four answers, then the news switch. No pressure."""
        lang = profile.lang
        acts = (await self.visible_to(profile, now))[:5]
        news = self._news_reply(profile)
        if not acts:
            return (Reply(self.texts.get("activities_empty", lang), news.quick_replies),)
        replies = [Reply(self.texts.get("activities_header", lang))]
        for act in acts:
            text = self.summary(act, lang)
            mine = await self.rsvps.answer_of(act, profile.user_key)
            if mine is not None:
                text += "\n" + self.texts.get("your_answer", lang, answer=self._answer_label(mine, lang))
            replies.append(Reply(text, self.buttons(act, lang)))
        replies.append(news)
        return tuple(replies)

    def _news_reply(self, profile: Profile) -> Reply:
        lang = profile.lang
        if profile.activity_news:
            return Reply(
                self.texts.get("news_is_on", lang),
                (QuickReply(self.texts.get("news_off_button", lang), NEWS_OFF),),
            )
        return Reply(
            self.texts.get("news_is_off", lang),
            (QuickReply(self.texts.get("news_on_button", lang), NEWS_ON),),
        )

    def _answer_label(self, answer: Answer, lang: str) -> str:
        key = "waitlist_button" if answer is Answer.WAITLIST else f"rsvp_{answer.value}"
        return self.texts.get(key, lang)

    async def set_news(self, user_key: str, on: bool) -> Reply:
        profile = await self.profiles.update(user_key, activity_news=on)
        lang = profile.lang if profile else "ko"
        return Reply(self.texts.get("news_turned_on" if on else "news_turned_off", lang))

    async def respond(self, activity_id: str, profile: Profile, answer: Answer, now: datetime) -> Reply:
        """Record an answer. A full activity offers the waiting list instead of a flat no."""
        lang = profile.lang
        act = await self.repo.get(activity_id)
        if act is None or act.status is not Status.SCHEDULED or now >= act.end:
            return Reply(self.texts.get("rsvp_gone", lang))
        if act.audience_tag and act.audience_tag not in profile.tags:
            return Reply(self.texts.get("rsvp_gone", lang))
        outcome = await self.rsvps.answer(act, profile.user_key, answer, now)
        if outcome.result is Result.FULL:
            offer = QuickReply(self.texts.get("waitlist_button", lang), rsvp_payload(act.id, Answer.WAITLIST))
            return Reply(self.texts.get("rsvp_full", lang), (offer,))
        if outcome.spot_for:
            await self._offer_spot(act, outcome.spot_for, now)
        if answer is Answer.WAITLIST:
            return Reply(self.texts.get("rsvp_waitlisted", lang))
        return Reply(self.texts.get(f"rsvp_recorded_{answer.value}", lang))

    async def _offer_spot(self, act: Activity, user_key: str, now: datetime) -> None:
        if self.outbox is None:
            return
        profile = await self.profiles.get(user_key)
        if profile is None or not profile.active:
            return
        lang = profile.lang
        channel, chat_id = split_user_key(user_key)
        text = self.texts.get(
            "spot_opened", lang, title=act.title, when=self.texts.when(act.start, self.tz, lang)
        )
        button = QuickReply(self.texts.get("rsvp_going", lang), rsvp_payload(act.id, Answer.GOING))
        message = OutboundMessage(
            channel=channel,
            chat_id=chat_id,
            text=text,
            kind="activity_spot",
            priority=Priority.NORMAL,
            buttons=button_rows((button,)),
            user_key=user_key,
        )
        key = f"spot:{act.id}:{act.occurrence}:{user_key}:{int(now.timestamp())}"
        until = quiet_until(CheckinSettings.from_profile(profile, self.tz), now)
        if until is None:
            await self.outbox.enqueue(message, key=key)
        elif until < act.start:  # asleep now: tell them when their quiet hours end
            await deferred.hold(self.redis, {deferred.entry(message, key): until.timestamp()})
