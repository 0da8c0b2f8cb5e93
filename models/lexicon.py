"""The high-precision lexicon layer: explicit statements, mentions that are not about the writer,
and everyday hyperbole.

Why a lexicon beside the classifier: an explicit statement ("자살하고 싶어", "kill myself") must never
be missed, whatever the classifier's score; and "졸려 죽겠다" must never page a counsellor at 3 a.m.
Each rule has a name so the counsellor sees which one fired (`lexicon:<name>`).

Rules are read per sentence. A sentence whose explicit match is a mention not about the writer
(a prevention campaign, a news story, a drama character, a song quote) does not fire the rule; the
classifier still reads it, and the guard's name is given as a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_I = re.IGNORECASE


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]


def _rules(*pairs: tuple[str, str]) -> tuple[Rule, ...]:
    return tuple(Rule(name, re.compile(rx, _I)) for name, rx in pairs)


# --- explicit crisis statements (first person by default in Korean chat) -------------------------
CRISIS_RULES: tuple[Rule, ...] = _rules(
    # Korean
    (
        "ko_death_wish",
        r"죽고\s*싶|죽어\s*버리고\s*싶|죽어야\s*(겠|할\s*것\s*같)|살기\s*(가\s*)?싫|"
        r"살고\s*싶지\s*(가\s*)?않|살\s*이유가\s*없|사라지고\s*싶|없어지고\s*싶|그만\s*살고\s*싶|"
        r"안\s*깨어났으면|눈\s*안\s*떴으면|영원히\s*잠들고\s*싶|태어나지\s*말았어야|세상\s*(을\s*)?떠나고\s*싶|"
        # chat spellings and typos of 죽고 싶다 / 살기 싫다
        r"죽고\s*(시퍼|십|싶)|주거\s*버리고\s*싶|쥭고\s*싶|살기\s*(가\s*)?(시러|실타|싫)|"
        # passive death wish: not being born, not waking, being hit, someone ending it for me
        r"태어나지\s*말\s*(걸|았)|태어나질\s*말|안\s*태어났으면|"
        r"자다가\s*(그냥\s*)?(죽었으면|죽어\s*버렸으면|안\s*깼으면|안\s*깨어났으면|심장\s*멈)|"
        r"(잠들고|잠들면)\s*(다시는\s*|영원히\s*)?안\s*깼으면|영영\s*잠들어\s*버리고\s*싶|"
        r"(차|트럭|버스)\s*(가|이|에)?\s*(날\s*|나를\s*)?(쳤으면|치어\s*줬으면|치였으면)|"
        r"누가\s*(나\s*좀|날|나를)\s*죽여\s*(줬으면|주면|주라)|빨리\s*죽었으면|"
        # ending one's life, in plain words and in euphemism
        r"그만\s*살(래|아야|고\s*싶)|(삶|인생|생)\s*(을\s*)?(끝내|마감하)\S*\s*싶|생을\s*마감|"
        r"(삶|인생)\s*(을\s*)?(끝낼|끝내\s*버릴)\s*(래|거|게|생각)|인생\s*(로그아웃|강종|강제\s*종료)|"
        r"세상\s*(을\s*)?(뜨고|하직하고)\s*싶|저\s*세상\s*(가고|갈래|가야)|따라\s*(가고\s*싶|죽고\s*싶)|"
        r"죽을\s*(날짜|장소|날)\s*(을\s*|를\s*)?(정|찾)|살\s*가치가\s*없\S*\s*(죽|사라)|"
        r"(안\s*아프게|고통\s*없이|확실하게|덜\s*아프게)\s*(죽는|가는|죽을\s*수\s*있는)\s*(법|방법)|"
        r"죽는\s*(법|방법)\s*(을\s*|를\s*)?(검색|찾아|알아)",
    ),
    (
        "ko_suicide",
        r"자살\s*(하고|할|하려|해\s*버|할까|충동|시도|계획|생각|하는\s*방법|각)|하늘나라\s*(가고|갈래|가야)|"
        r"극단적(인)?\s*(선택|생각)|스스로\s*목숨|목숨\s*(을\s*)?끊|"
        r"ㅈㅅ\s*(하고|할|각|마렵|하려|해야|ㄱ|생각|충동)|ㅈㅅ하|ㅈ살|자[1l!.ㅅ]살|자ㅅ\s*하|"
        r"자살\s*(마렵|고민|각|이\s*답|말고는|해야|할래|하고\s*싶)|극단\s*선택\s*(하|할|생각)",
    ),
    (
        "ko_self_harm",
        r"(?<![투여남모과의부혼피감액왕주])자해|손목\s*(을\s*)?(긋|그었|그을|그어)|"
        r"(칼|커터칼?)로\s*(팔|손목|허벅지|나를?)|(팔|손목|허벅지)\s*(을\s*|에\s*)?(또\s*)?(그었|긋고\s*싶)|"
        r"또\s*그었|(깊게|세게|많이)\s*(그었|그어서|그음)|그은\s*(자국|상처)\s*(\S+\s*)?(숨기|가리)|"
        r"(면도칼|면도날|커터칼)\s*(로|으로)\s*(그었|긋)|담뱃불\s*(로)?\s*(팔|손|살)?\s*(을\s*)?지졌",
    ),
    (
        "ko_means",
        r"번개탄\s*(을\s*)?(샀|사\s*놨|사놨|사러|피우|피워|갖고\s*방|구했)|"
        r"수면제\s*(를\s*)?(모으|모아|모았|다\s*먹|한꺼번에|털어|몇\s*알|한\s*통)|"
        r"(약|알약)\s*(을|를)?\s*(한꺼번에|다\s*털어|몇\s*알\s*먹으면\s*죽)|(수면제|진통제|알약|약)\s*(을|를)?\s*(\S+\s+)?모(았|으고|아\s*(놨|뒀|두))|목\s*(을\s*)?매(달|려|고\s*싶)|"
        r"(뛰어|떨어져)\s*내리(고\s*싶|려|면|고\s*싶|면\s*죽)|옥상\s*(에서|에)\s*(뛰|떨어)|"
        r"한강\s*(물\s*)?온도|한강\s*(다리|대교)\s*(위|난간|에서\s*뛰)|한강\s*(에|으로)?\s*(뛰어|투신|들어가\s*버)|"
        r"투신|한강\s*(수온|입수)|한강\s*(물\s*)?(에\s*)?(몸\s*(을\s*)?던지|뛰어들)|한강\s*(가서|에서)\s*(다\s*)?끝내|"
        r"(마포대교|양화대교|대교)\s*(난간\s*(위|에\s*(서\s*있|올라|매달|기대)|을?\s*넘)|위에\s*(서\s*있|있어))|"
        # lethal-dose questions: 치사량 is asked for one reason
        r"치사량|(몇\s*(알|개|mg|밀리)|얼마나)\s*(\S+\s*)?(먹으면|먹어야|삼키면)\s*(\S+\s*)?(죽|안\s*깨|못\s*깨)|"
        r"(타이레놀|수면제|수면\s*유도제|졸피뎀|진통제|약)\s*(을\s*|를\s*)?(\S+\s*)?(몇\s*(알|개)|한\s*통)\s*(\S+\s*)?"
        r"(먹으면\s*(죽|어떻게)|이면\s*(죽|돼)|먹어야\s*(죽|안\s*깨))|"
        r"번개탄\s*(이랑|하고|과)?\s*(청)?테이프|번개탄\s*(어디서|파는\s*곳)|방문\s*(을\s*)?테이프로\s*막|"
        r"목\s*(맬|매는)\s*(줄|법|방법)|문고리에\s*줄|(몇\s*층|\d+\s*층)(에서|이면)\s*(\S+\s*)?(죽|확실)|"
        r"뛰어내리면\s*(바로\s*)?죽|(락스|농약)\s*(을\s*|를\s*)?(마시면|먹으면|어디서\s*구)|"
        r"(지하철|기차|차)\s*(에|에다|로)?\s*(일부러\s*)?뛰어들",
    ),
    (
        "ko_goodbye",
        r"유서|마지막\s*인사\s*(하려|남기|할게)|마지막\s*(카톡|메시지|메세지|연락)(이야|일|이\s*될)|"
        r"다들\s*(나\s*)?없이도\s*잘|나\s*없어도\s*(다들\s*)?(잘|괜찮|행복)|"
        r"먼저\s*가서\s*미안|미안해?\s*(엄마|아빠)?\s*먼저\s*가|다음\s*생에\s*(보자|만나)|"
        r"(물건|옷|책|아끼던\s*거)\S*\s*(다\s*)?(나눠|줬|정리)\S*\s*(난\s*|나\s*)?이제\s*필요\s*없",
    ),
    # English
    (
        "en_death_wish",
        r"\b(want|wanna|wanted)\s+(to\s+)?die\b|\bwish\s+i\s+(was|were)\s+dead|"
        r"\bdon'?t\s+want\s+to\s+(be\s+alive|live|exist|wake\s+up)|\bno\s+reason\s+to\s+live|"
        r"\bwish\s+i\s+(could\s+)?(never\s+wake\s+up|disappear\s+forever)|\bready\s+to\s+die\b|"
        r"\b(want|wanna)\s+(to\s+)?be\s+dead\b|\bwish\s+i\s+(was|were|had)\s+never\s+(been\s+)?born|"
        r"\b(hope|wish)\s+(a\s+)?(car|bus|truck|train)\s+hits\s+me|\bstop\s+existing\b|"
        r"\b(most\s+)?painless\s+way\s+to\s+die|\bhope\s+i\s+(don'?t|never)\s+wake\s+up",
    ),
    # "gonna die" is a death wish or a figure of speech ("so hungry im gonna die"): see SOFT_RULES
    ("en_going_to_die", r"\b(going|gonna)\s+(to\s+)?die\b"),
    (
        "en_suicide",
        r"\bkill(ing)?\s+my\s*self|\bkms\b|\bunalive\s*(my\s*self|me)?|\bsewer\s*slide|"
        r"\bend\s+(it\s+all|my\s+life|my\s+own\s+life)|\btake\s+my\s+(own\s+)?life|\bsuicidal\b|"
        r"\bcommit(ting)?\s+suicide|\bsuicide\s+(plan|attempt|thoughts?)|\bthinking\s+(about|of)\s+suicide|"
        r"\b(i'?m|im|i\s+am)\s+(gonna|going\s+to)\s+end\s+(it|things|everything)\b|\bending\s+it\s+(tonight|this\s+week)",
    ),
    (
        "en_self_harm",
        r"\bself[-\s]?harm(ing|ed)?\b|\bcut(ting)?\s+(my\s*self|my\s+(wrists?|arms?|thighs?))|"
        r"\bhurt(ing)?\s+my\s*self|\bburn(ing|ed)?\s+my\s*self|\bi\s+cut\s+again\b|\brelapsed\s+and\s+cut|"
        r"\bburn(ed|t)\s+my\s+(arm|wrist|leg|skin)\s+(\w+\s+)*on\s+purpose|"
        # "sh" is self-harm in recovery talk: relapsing, streaks, hiding cuts and scars
        r"\brelaps(e|ed|ing)\s+(on\s+|with\s+|into\s+)?(sh|self[-\s]?harm|cutting)\b|\bsh\s+(relapse|again|urges?|tonight)\b|"
        r"\b(hiding|hide|cover(ing)?)\s+(up\s+)?my\s+(wrists|cuts|scars|arms)\b|\b(fresh|new|deep)\s+cuts\b|"
        r"\bcut\s+(too\s+)?deep\b|\bwon'?t\s+stop\s+bleeding",
    ),
    (
        "en_means",
        r"\bhow\s+many\s+(\w+\s+)?(pills|tablets)\s+(would|does|to|is|are)\b.*\b(die|kill|lethal|too\s+many|fatal)|"
        r"\bhow\s+many\s+\w+\s+(is|are|would\s+be)\s+(lethal|fatal|an?\s+overdose)|"
        r"\bover\s?dos(e|ing)\b|\b(lethal|fatal)\s+(dose|amount)|\b(deadly|toxic)\s+dose|"
        r"\bhow\s+(much|many)\s+(\w+\s+){1,3}((would|will|does|can)\s+(it\s+take\s+to\s+)?|to\s+|it\s+takes?\s+to\s+)(kill\s+(me|you|u|someone|somebody|a\s+(person|human|man|woman|kid|teen|adult)|myself)\b|be\s+fatal)|"
        r"\bhow\s+(much|many)\s+(\w+\s+){0,3}(before|until)\s+(you|i|u)\s+die|"
        r"\b(might|gonna|going\s+to|should|wanna|could)\s+(just\s+)?jump\s*(lol|lmao|tbh|fr|tonight|$)|"
        r"\b(step|walk)\s+in\s+front\s+of\s+(a|the)\s+(train|bus|truck|car)|"
        r"\bhang(ing)?\s+my\s*self|\bnoose\b|"
        r"\bjump(ing)?\s+(off|from)\s+(a|the|this)\s+(bridge|roof|building|balcony)|"
        r"\bstock\s*pil(e|ing)\s+(my\s+)?(pills|meds)",
    ),
    (
        "en_goodbye",
        r"\b(suicide|goodbye)\s+(note|letter)|\bbetter\s+off\s+without\s+me|"
        r"\b(giving|gave)\s+(away\s+)?(all\s+)?my\s+(stuff|things)(\s+away)?|\bwon'?t\s+(be\s+)?need(ing)?\s+(it|them|this|my\s+\w+)\s+(anymore|any\s*more)|"
        r"\blast\s+(message|time\s+you'?ll\s+hear)\s+from\s+me|\bthis\s+is\s+my\s+(final|last)\s+goodbye|"
        r"\bwon'?t\s+be\s+(here|around)\s+(tomorrow|much\s+longer|anymore)",
    ),
)

# --- mentions that are not about the writer --------------------------------------------------
GUARD_RULES: tuple[Rule, ...] = _rules(
    (
        "mention_campaign",
        r"(자살|자해|극단적\s*선택)\s*(예방|방지|예방\s*센터|상담\s*전화|률|율|통계)|"
        r"예방\s*(캠페인|교육|주간|포스터)|캠페인|포스터|\bsuicide\s+(prevention|awareness|hotline|rates?|statistics)|"
        r"\bprevention\b|\bhotline\s+(signs?|number|posters?|ads?)|\bcrisis\s+line\s+(signs?|posters?)|생명의\s*다리|"
        r"\bawareness\s+(month|week|walk|campaign)|\bcampaign\b",
    ),
    ("mention_news", r"뉴스|기사|보도|다큐|\bnews\b|\barticle\b|\bdocumentary\b|\bheadline"),
    (
        "mention_fiction",
        r"드라마|영화|웹툰|소설|주인공|캐릭터|배우|에피소드|\bmovie\b|\bshow\b|\bepisode\b|"
        r"\bcharacter\b|\bnovel\b|\bbook\b|\banime\b|\bseries\b",
    ),
    ("mention_quote", r"가사|노래\s*(제목|가사)|\blyrics?\b|\bsong\s+(title|called|goes)|\bthe\s+line\s+"),
)
# A first-person cue beside a guard word keeps the rule firing ("드라마 보다가 나도 죽고 싶어졌어").
_FIRST_PERSON = re.compile(r"나도|나는|난\s|내가|저도|제가|\bI\b|\bI'm\b|\bme\s+too\b|\bmyself\b", _I)
_REPORTED = re.compile(
    r"(죽고\s*싶|자살)\S*\s*(다는|다고|라는|라고)\s*(장면|대사|가사|노래|내용|말을\s*했)|"
    r"\b(lyrics?|song|line|quote|character|he|she|they)\s+(says?|said|goes|go|sings?|sang)\b",
    _I,
)

# --- everyday hyperbole: a death word used as an intensifier ----------------------------------
HYPERBOLE_RULES: tuple[Rule, ...] = _rules(
    (
        "ko_hyperbole",
        r"[가-힣]+(어|아|워|와|해|파|려|러|워서|아서|어서|해서|파서)\s*(서\s*)?"
        r"(죽겠|죽을\s*것\s*같|죽을\s*거\s*같|죽을\s*뻔|뒤지겠|디지겠|미치겠|돌겠|죽는\s*줄)|죽을\s*맛|미치겠|"
        r"(웃겨|귀여워|좋아)\s*(서\s*)?(죽|뒤지)|[가-힣](서|때문에)\s*(죽겠|죽을\s*것\s*같|죽을\s*거\s*같|죽을\s*맛)|"
        r"(말라|고파|불러|땡겨|아파|추워|더워|졸려)\s*(서\s*)?(죽겠|죽을|뒤지|디지)|(걸리면|알면|들키면)\s*(나\s*)?(죽|뒤지)|"
        r"죽다\s*살았|죽어도\s*(여한이\s*없|좋아)|(힐러|탱커|딜러|서폿|서포터|팀원)\S*\s*(나만\s*|계속\s*|또\s*)?죽|(게임|보스|몹|좀비|캐릭|랭겜|롤|배그|던전|스나|판에서|한\s*방에)[^.!?\n]*(죽|졌)|"
        r"[가-힣]+(한테|에게)\s*(맞아\s*)?죽(는다|었다|을\s*듯|겠)|"
        r"한강\s*(공원|라면|치맥|뷰|야경|불꽃|러닝|자전거|피크닉|소풍|산책|편의점|에서\s*(치킨|라면|러닝|자전거|산책))|"
        r"배터리\s*(가\s*)?(죽|나갔|다\s*됐|없)|폰\s*(이\s*)?죽|쥐구멍|(창피|쪽팔려|민망)\S*\s*(\S+\s*)?(숨고|사라지고|없어지고)\s*싶",
    ),
    (
        "en_hyperbole",
        r"\b(is|are|was|it'?s|they'?re|you'?re)\s+killing\s+me|\bkilling\s+me\b|\bdying\s+(to|for|of\s+laughter)\b|"
        r"\bdead\s+tired|\bcould\s+kill\s+for|\bi'?m\s+dead\s*(lol|lmao|😂|💀)|\bi\s+died\s+(laughing|lol)|"
        r"\b(died|die|dying|killed)\s+(in|on|to)\s+(the\s+)?(game|level|boss|raid|round|match|final\s+boss)|"
        r"\b(battery|phone|laptop)\s+(is\s+|was\s+)?(dead|died|dying)|\bdead\s+(battery|phone)|"
        r"\bscared\s+to\s+death|\bbored\s+to\s+death|\bto\s+die\s+for\b|"
        r"\b(so|too)\s+\w+\s+(that\s+)?i\s+could\s+(die|cry|scream)\b|"
        r"\b(i'?m|im)\s+(literally\s+|actually\s+|so\s+)?(dying|dead+)\b.*(lol|lmao|haha|😂|💀|🤣)|"
        r"\b(lol|lmao|haha)\b.*\b(i'?m|im)\s+(literally\s+)?(dying|dead+)\b|\bi\s+died\b\s*(💀|😂|🤣)|"
        r"\b(so\s+full|ate\s+(way\s+)?too\s+much|so\s+good|so\s+funny)\b.*\b(dying|dead)\b|\bdying\s+of\s+(heat|cringe|boredom)|"
        r"\blosing\s+(it|my\s+mind)\b.*\b(lol|lmao|haha)\b|\bbe\s+the\s+death\s+of\s+me|"
        r"\b(mom|dad|mum|teacher|coach|boss)\s+(is\s+)?(gonna|going\s+to|will)\s+kill\s+me|\bkill\s+me\s+now\b|"
        r"\b(so|too|this)\s+\w+\s+(i'?m|im|i\s+am|i)\s+(literally\s+)?(gonna|going\s+to|about\s+to)\s+die\b|"
        r"\bkill(ing)?\s+time\b|\bi'?d\s+rather\s+die\s+than\s+(?!(live|living|keep|go\s+on|wake|be\s+alive|exist|spend|face|feel))|"
        r"\b(gonna|going\s+to)\s+die\s+(of|from)\s+(boredom|embarrassment|cringe|hunger|heat|laughter|laughing|excitement)|"
        r"\b(gonna|going\s+to)\s+die\s+(if|before|when|waiting)\b.*\b(exam|test|class|game|show|episode|season|drop|release|concert|food|pizza)",
    ),
)


@dataclass(frozen=True)
class LexiconHit:
    crisis: tuple[str, ...]  # explicit rules that fired (about the writer)
    guards: tuple[str, ...]  # mention words seen (campaign, news, fiction, quote)
    hyperbole: tuple[str, ...]
    not_self: bool = False  # a guard word and no first-person cue: likely not about the writer


# Rules that are also everyday figures of speech: a hyperbole match in the same sentence
# ("so hungry im gonna die") silences them; the classifier still reads the sentence.
SOFT_RULES = frozenset({"en_going_to_die"})


def read(sentence: str) -> LexiconHit:
    """Run every rule on one sentence."""
    crisis = tuple(r.name for r in CRISIS_RULES if r.pattern.search(sentence))
    guards = tuple(r.name for r in GUARD_RULES if r.pattern.search(sentence))
    hyperbole = tuple(r.name for r in HYPERBOLE_RULES if r.pattern.search(sentence))
    if hyperbole:
        crisis = tuple(r for r in crisis if r not in SOFT_RULES)
    not_self = bool(_REPORTED.search(sentence) or (guards and not _FIRST_PERSON.search(sentence)))
    if crisis and not_self:
        # A mention, not a statement: the classifier decides, the reason names the guard.
        return LexiconHit((), guards or ("mention_reported",), hyperbole, True)
    return LexiconHit(crisis, guards, hyperbole, not_self)
