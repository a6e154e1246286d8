"""Every text the onboarding dialogue can say, as catalog message ids (English source).

``pybabel extract`` reads this module (see services/router/locales/README.md); the translations live
in services/router/locales/<locale>/LC_MESSAGES/onboarding.po. Placeholders are named, in braces
(``{city}``), and each translation must use exactly the same ones (tests/unit/dialogue checks it).

Contexts (msgctxt) say what kind of text an entry is:
- none: a chat message (LINE allows 5,000 characters; keep them short);
- ``button``, ``topic``, ``residence status``: quick-reply labels, at most 20 characters on LINE
  (topics get a ✅/⬜ mark in front, so at most 18);
- ``keywords``: words a user may type as a command, separated by ``|``; the first one is shown in help;
- ``organization``: the sender's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.codes import ResidenceStatus
from services.common.contracts.notices import NoticeCategory

BUTTON = "button"
TOPIC = "topic"
RESIDENCE_STATUS = "residence status"
KEYWORDS = "keywords"
ORGANIZATION = "organization"
LABEL_CONTEXTS = frozenset({BUTTON, TOPIC, RESIDENCE_STATUS})


@dataclass(frozen=True, slots=True)
class Text:
    msgid: str
    context: str | None = None

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.context, self.msgid)


ALL: list[Text] = []


def _(msgid: str) -> Text:
    text = Text(msgid)
    ALL.append(text)
    return text


def pgettext(context: str, msgid: str) -> Text:
    text = Text(msgid, context)
    ALL.append(text)
    return text


# NOTE: The name of the organisation that runs this LINE account.
ORGANIZATION_NAME = pgettext("organization", "Gunma Prefecture")

# --- greeting and language -------------------------------------------------------------------------
WELCOME = _(
    "Hello! This is the LINE account of {organization} for foreign residents. "
    "We send useful information and reminders in your language."
)
CHOOSE_LANGUAGE = _("Please choose your language.")
# NOTE: {language} is the language's own name, e.g. "Tiếng Việt".
LANGUAGE_SET = _("Your language is now {language}.")
WELCOME_BACK = _("Welcome back! Your settings have been kept.")

# --- employer registration code -------------------------------------------------------------------
# NOTE: {example} is a sample code such as GM-7KQ2-9XPA.
ASK_EMPLOYER_CODE = _(
    "Did your employer give you a registration code? Please send it here (example: {example}). "
    "If you have no code, tap “Skip”."
)
CODE_MALFORMED = _(
    "This code does not look right. A code has 8 letters and numbers (example: {example}). "
    "Please check it and send it again."
)
CODE_NOT_FOUND = _("We could not find this code. Please check it with your employer and send it again.")
CODE_REVOKED = _("This code is no longer valid. Please ask your employer for a new code.")
# NOTE: {city} is the name of the city or town where the employer is, e.g. "Ota" or "太田市".
CODE_ACCEPTED = _("Thank you! You are now registered with your employer in {city}.")
CODE_GIVE_UP = _("Let's continue without a code. You can send the code here at any time later.")
CODE_TOO_MANY = _("Too many wrong codes. Please try again later.")

# --- optional details -----------------------------------------------------------------------------
ASK_NATIONALITY = _(
    "What is your nationality? If it is not in the list, please type the name of your country. "
    "You can also skip this question."
)
NATIONALITY_NOT_FOUND = _("Sorry, we could not find this country. Please type the name again or tap “Skip”.")
ASK_RESIDENCE_STATUS = _(
    "What is your status of residence? It is written on your residence card. You can also skip this question."
)
USE_BUTTONS = _("Please choose one of the buttons below.")

# --- consent and the residence card ---------------------------------------------------------------
# NOTE: Consent text: any change here or in a translation needs a new CONSENT_VERSION (consent.py).
# {delete} is the word the user sends to delete their data (the first "delete" keyword).
CONSENT = _(
    "Personal reminders (optional)\n"
    "We can remind you, for example, before your period of stay ends or when you change jobs. "
    "For this, we link you with the employment record that your employer reports to the government.\n"
    "• You send your residence card number once. We keep only a code made from it, never the number.\n"
    "• We use it only for these reminders.\n"
    "• You can delete your data at any time: send “{delete}”.\n"
    "Do you agree?"
)
CONSENT_CHANGED = _("This text has been updated. Please read it and answer again.")
ASK_CARD = _(
    "Thank you. Please send your residence card number: 2 letters, 8 digits and 2 letters "
    "(example: AB12345678CD)."
)
CARD_INVALID = _(
    "This is not a residence card number. It has 12 characters: 2 letters, 8 digits and 2 letters. "
    "Please send it again, or tap “Later”."
)
CARD_NEEDS_CONSENT = _(
    "Before we can use your residence card number, please read the following and agree. "
    "The number you sent was not kept."
)
CARD_LINKED = _("Thank you. Your residence card is linked. We will send you personal reminders.")
# NOTE: {reminders} is the word the user sends for personal reminders (the first "reminders" keyword).
CONSENT_DECLINED = _(
    "OK. You will still receive general information. For personal reminders later, send “{reminders}”."
)
REMINDERS_ACTIVE = _("Personal reminders are on. If you get a new residence card, send its new number here.")
# NOTE: {url} is the address of the privacy policy.
PRIVACY_POLICY = _("How we protect your data: {url}")
REGISTRATION_DONE = _("Registration is complete. Send “{help}” at any time to see what you can do.")

# --- commands -------------------------------------------------------------------------------------
# NOTE: Each {…} is the word the user sends for that command (the first keyword of this language).
HELP = _(
    "You can send these words:\n"
    "“{language}”: change the language\n"
    "“{topics}”: choose topics\n"
    "“{reminders}”: personal reminders\n"
    "“{stop}” / “{start}”: stop or restart messages\n"
    "“{delete}”: delete your data\n"
    "“{help}”: this help\n"
    "We cannot answer questions in this chat."
)
# NOTE: {contact} is the deployment's contact text (phone, hours), not translated.
CONTACT = _("For questions, please contact: {contact}")
UNKNOWN = _("Sorry, we cannot reply to messages in this chat. Send “{help}” to see what you can do.")
TOPICS = _("Choose the topics you want to receive. Tap a topic to switch it on or off.")
# NOTE: {topics} is a list of topic names, e.g. "Disasters".
TOPICS_ALWAYS = _("Always sent: {topics}.")
SAVED = _("Saved.")
# NOTE: {start} is the word the user sends to restart messages (the first "start" keyword).
STOPPED = _("All messages are stopped. Send “{start}” to receive them again.")
STARTED = _("Messages are on again.")
DELETE_CONFIRM = _(
    "Delete all your data? Your language, employer, nationality, status of residence and the link to "
    "your employment record will be deleted. You will receive no more messages."
)
DELETED = _("Your data has been deleted. To use this service again, send any message.")
DELETE_CANCELLED = _("Nothing was deleted.")

# --- quick-reply buttons (at most 20 characters) --------------------------------------------------
BUTTON_MORE = pgettext("button", "More")
BUTTON_BACK = pgettext("button", "Back")
BUTTON_SKIP = pgettext("button", "Skip")
BUTTON_AGREE = pgettext("button", "I agree")
BUTTON_NOT_NOW = pgettext("button", "Not now")
BUTTON_LATER = pgettext("button", "Later")
BUTTON_DELETE = pgettext("button", "Delete")
BUTTON_CANCEL = pgettext("button", "Cancel")
BUTTON_DONE = pgettext("button", "Done")
BUTTON_HELP = pgettext("button", "Help")
BUTTON_LANGUAGE = pgettext("button", "Language")
BUTTON_TOPICS = pgettext("button", "Topics")
BUTTON_REMINDERS = pgettext("button", "Reminders")
BUTTON_STOP = pgettext("button", "Stop messages")
BUTTON_START = pgettext("button", "Restart messages")
BUTTON_DELETE_DATA = pgettext("button", "Delete my data")

# --- topics (notice categories; at most 18 characters) --------------------------------------------
TOPIC_IMMIGRATION = pgettext("topic", "Immigration")
TOPIC_TAX = pgettext("topic", "Taxes")
TOPIC_TRAFFIC = pgettext("topic", "Traffic")
TOPIC_GARBAGE = pgettext("topic", "Garbage")
TOPIC_DISASTER = pgettext("topic", "Disasters")
TOPIC_OTHER = pgettext("topic", "Other news")

# --- statuses of residence (at most 20 characters) ------------------------------------------------
# NOTE: 技能実習1号 (Technical Intern Training (i)).
STATUS_TECHNICAL_INTERN_1 = pgettext("residence status", "Technical Intern 1")
# NOTE: 技能実習2号
STATUS_TECHNICAL_INTERN_2 = pgettext("residence status", "Technical Intern 2")
# NOTE: 技能実習3号
STATUS_TECHNICAL_INTERN_3 = pgettext("residence status", "Technical Intern 3")
# NOTE: 特定技能1号 (Specified Skilled Worker (i)).
STATUS_SPECIFIED_SKILLED_1 = pgettext("residence status", "Specified Skilled 1")
# NOTE: 特定技能2号
STATUS_SPECIFIED_SKILLED_2 = pgettext("residence status", "Specified Skilled 2")
# NOTE: 技術・人文知識・国際業務 (Engineer/Specialist in Humanities/International Services).
STATUS_ENGINEER = pgettext("residence status", "Engineer/Specialist")
# NOTE: 永住者
STATUS_PERMANENT_RESIDENT = pgettext("residence status", "Permanent Resident")
# NOTE: 定住者
STATUS_LONG_TERM_RESIDENT = pgettext("residence status", "Long-Term Resident")
# NOTE: 日本人の配偶者等
STATUS_SPOUSE_OF_JAPANESE = pgettext("residence status", "Spouse of Japanese")
# NOTE: 留学
STATUS_STUDENT = pgettext("residence status", "Student")
# NOTE: 家族滞在
STATUS_DEPENDENT = pgettext("residence status", "Dependent")
# NOTE: 特定活動
STATUS_DESIGNATED_ACTIVITIES = pgettext("residence status", "Designated Activity")

# --- command keywords (separated by |; the first one is shown in help) ----------------------------
# NOTE: Words that open the language choice. Whole message only; case and accents are ignored.
KEYWORDS_LANGUAGE = pgettext("keywords", "language|languages|lang")
# NOTE: Words that open the choice of topics.
KEYWORDS_TOPICS = pgettext("keywords", "topics|topic|categories|settings")
# NOTE: Words that start linking the residence card for personal reminders.
KEYWORDS_REMINDERS = pgettext("keywords", "reminders|reminder|card")
# NOTE: Words that stop all messages.
KEYWORDS_STOP = pgettext("keywords", "stop|unsubscribe")
# NOTE: Words that restart messages after a stop.
KEYWORDS_START = pgettext("keywords", "start|restart|resume")
# NOTE: Words that ask to delete the user's data (a confirmation follows).
KEYWORDS_DELETE = pgettext("keywords", "delete|delete my data|erase")
# NOTE: Words that show the help.
KEYWORDS_HELP = pgettext("keywords", "help|menu")

# --- what the labels stand for --------------------------------------------------------------------
STATUS_TEXTS: dict[ResidenceStatus, Text] = {
    ResidenceStatus.TECHNICAL_INTERN_1B: STATUS_TECHNICAL_INTERN_1,
    ResidenceStatus.TECHNICAL_INTERN_2B: STATUS_TECHNICAL_INTERN_2,
    ResidenceStatus.TECHNICAL_INTERN_3B: STATUS_TECHNICAL_INTERN_3,
    ResidenceStatus.SPECIFIED_SKILLED_WORKER_1: STATUS_SPECIFIED_SKILLED_1,
    ResidenceStatus.SPECIFIED_SKILLED_WORKER_2: STATUS_SPECIFIED_SKILLED_2,
    ResidenceStatus.ENGINEER_HUMANITIES_INTERNATIONAL: STATUS_ENGINEER,
    ResidenceStatus.PERMANENT_RESIDENT: STATUS_PERMANENT_RESIDENT,
    ResidenceStatus.LONG_TERM_RESIDENT: STATUS_LONG_TERM_RESIDENT,
    ResidenceStatus.SPOUSE_OR_CHILD_OF_JAPANESE: STATUS_SPOUSE_OF_JAPANESE,
    ResidenceStatus.STUDENT: STATUS_STUDENT,
    ResidenceStatus.DEPENDENT: STATUS_DEPENDENT,
    ResidenceStatus.DESIGNATED_ACTIVITIES: STATUS_DESIGNATED_ACTIVITIES,
}

TOPIC_TEXTS: dict[NoticeCategory, Text] = {
    NoticeCategory.IMMIGRATION: TOPIC_IMMIGRATION,
    NoticeCategory.TAX: TOPIC_TAX,
    NoticeCategory.TRAFFIC: TOPIC_TRAFFIC,
    NoticeCategory.GARBAGE: TOPIC_GARBAGE,
    NoticeCategory.DISASTER: TOPIC_DISASTER,
    NoticeCategory.OTHER: TOPIC_OTHER,
}
