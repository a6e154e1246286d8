-- Personal reminders: rules as data, and each reminder raised (once per worker, rule and trigger date).

-- A rule says when a reminder is due and what it says. A prefecture adds one with an INSERT here or with
-- PUT /v1/reminder-rules/{rule_id} (ops key). The texts of a rule never change once created: translations
-- are cached per rule (notice_id = derived_id("reminder", rule_id)), so a new wording is a new rule and the
-- old one is disabled.
--
--   trigger           due when                                              {date} is
--   expiry_before     from `days` before the period of stay ends             the expiry date
--   separation        from the day the worker left an employer               the day left + `days`
--   hire_in_new_city  from a hire in a city other than the previous job's    the hire date + `days`
--
-- A reminder whose trigger date passed more than `window_days` ago is no longer raised (the feed and
-- the links arrive late; an old event must not produce a stale message).
CREATE TABLE reminder_rules (
    rule_id            text        PRIMARY KEY CHECK (rule_id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    trigger            text        NOT NULL CHECK (trigger IN ('expiry_before', 'separation', 'hire_in_new_city')),
    days               integer     NOT NULL DEFAULT 0 CHECK (days BETWEEN 0 AND 366),
    window_days        integer     NOT NULL CHECK (window_days BETWEEN 0 AND 366),
    category           text        NOT NULL
                                   CHECK (category IN ('immigration', 'tax', 'traffic', 'garbage', 'disaster', 'other')),
    -- statuses of residence the rule applies to; empty: every status
    residence_statuses text[]      NOT NULL DEFAULT '{}',
    title              text        NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body               text        NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
    source_language    text        NOT NULL CHECK (source_language IN ('ja', 'en')),
    enabled            boolean     NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Each reminder raised: the unique key makes it once per worker, rule and trigger date. It waits here
-- (quiet hours) until it is published as a DeliveryPlanned with purpose=reminder.
CREATE TABLE reminder_deliveries (
    rule_id      text        NOT NULL REFERENCES reminder_rules (rule_id),
    worker_id    text COLLATE "C" NOT NULL,
    trigger_on   date        NOT NULL,
    line_user_id text COLLATE "C" NOT NULL,
    language     text        NOT NULL,
    "values"     jsonb       NOT NULL,
    batch_id     text        NOT NULL UNIQUE,
    release_at   timestamptz NOT NULL,
    state        text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'published', 'skipped')),
    skip_reason  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    PRIMARY KEY (rule_id, worker_id, trigger_on)
);
CREATE INDEX reminder_deliveries_due ON reminder_deliveries (release_at) WHERE state = 'pending';
CREATE INDEX reminder_deliveries_subscriber ON reminder_deliveries (line_user_id);

-- The statuses whose holders must notify the Immigration Services Agency within 14 days of leaving their
-- employer (Immigration Control Act art. 19-16: notification concerning the affiliated or contracting
-- organisation).
INSERT INTO reminder_rules (rule_id, trigger, days, window_days, category, residence_statuses, source_language, title, body)
VALUES
(
    'residence-expiry-90', 'expiry_before', 90, 30, 'immigration', '{}', 'en',
    'Your period of stay ends on {date}',
    'Your residence card shows that your period of stay ends on {date}, about 3 months from now.

If you want to keep living and working in Japan, apply for an Extension of Period of Stay at the Regional Immigration Services Bureau for your address, or online. For a period of stay of 6 months or longer you can apply from 3 months before the expiry date, so you can apply now. Your employer may have to prepare documents too, so start early.

If you apply before {date} and the decision is not ready by then, you may stay until the decision, but no longer than 2 months after {date}.

If you need help, ask your employer, your support organization or a consultation center for foreign residents.'
),
(
    'residence-expiry-30', 'expiry_before', 30, 16, 'immigration', '{}', 'en',
    '30 days left: your period of stay ends on {date}',
    'Your period of stay ends on {date}.

If you have not applied for an Extension of Period of Stay (or a change of status of residence) yet, apply now at the Regional Immigration Services Bureau or online. You must apply by {date}.

If you have already applied, you do not need to do anything now. Keep your residence card with you: its back shows that your application is being examined.'
),
(
    'residence-expiry-14', 'expiry_before', 14, 14, 'immigration', '{}', 'en',
    'Only 14 days left: your period of stay ends on {date}',
    'Your period of stay ends on {date}. This is the last reminder.

If you have not applied for an Extension of Period of Stay yet, apply at the Regional Immigration Services Bureau as soon as possible, and no later than {date}. If you stay in Japan after {date} without having applied, your stay becomes illegal and you may be deported and refused entry later.

If you plan to leave Japan, leave by {date}.'
),
(
    'separation-notify-14-days', 'separation', 14, 60, 'immigration',
    ARRAY[
        'professor',
        'highly_skilled_professional_1a', 'highly_skilled_professional_1b', 'highly_skilled_professional_1c',
        'highly_skilled_professional_2', 'business_manager', 'legal_accounting', 'medical', 'researcher',
        'instructor', 'engineer_humanities_international', 'intra_company_transferee', 'nursing_care',
        'entertainer', 'skilled_labor', 'specified_skilled_worker_1', 'specified_skilled_worker_2',
        'technical_intern_1a', 'technical_intern_1b', 'technical_intern_2a', 'technical_intern_2b',
        'technical_intern_3a', 'technical_intern_3b', 'employment_for_skill_development'
    ],
    'en',
    'You left your job: notify Immigration by {date}',
    'Our records show that your employment at {employer} has ended.

Within 14 days of leaving, that is by {date}, you must notify the Immigration Services Agency that you left your employer (notification concerning your contracting or affiliated organization). You can notify online through the Immigration Services Agency''s electronic notification system, by post, or at a Regional Immigration Services Bureau. If {date} has already passed, notify as soon as possible. When you start a new job, notify again within 14 days.

If your status of residence is Specified Skilled Worker, you need permission to change your status of residence before you start working for a new employer.

If you do not do the activities of your status of residence for 3 months without a good reason, your status of residence may be revoked. If you have questions, ask a consultation center for foreign residents.

If you have not left {employer}, you can ignore this message.'
),
(
    'welcome-new-city-address', 'hire_in_new_city', 0, 60, 'immigration', '{}', 'en',
    'Welcome to {city}: register your new address within 14 days',
    'Welcome to {city}!

If you moved to a new home for your job at {employer}, register your new address at the {city} municipal office within 14 days of moving in. Bring your residence card (and your My Number card if you have one). This registration also counts as your notification of your place of residence to Immigration.

If you moved from another city or town, first report your moving out at the office of your old city, then register in {city}.'
),
(
    'welcome-new-city-garbage', 'hire_in_new_city', 0, 60, 'garbage', '{}', 'en',
    'Garbage rules in {city}',
    'In {city}, household garbage must be sorted and put out at your neighborhood collection point on the right day, in the morning of the collection day.

The usual types are burnable garbage, non-burnable garbage and recyclables (cans, glass bottles, PET bottles, paper). Large items such as furniture or bicycles need an application and usually a fee.

Rules and collection days differ by area: get the garbage calendar for your address from the {city} municipal office, or ask your employer or your neighbors. Garbage put out on the wrong day or without sorting is not collected.'
),
(
    'welcome-new-city-tax', 'hire_in_new_city', 0, 60, 'tax', '{}', 'en',
    'Taxes in Japan: the basics',
    'Income tax is usually deducted from your salary every month by your employer ({employer}).

Residence tax is charged by the city or town where you live on January 1, based on your income of the previous year. It is often deducted from your salary from June.

Every year your employer gives you a withholding tax slip (gensen choshu hyo): keep it. If you leave Japan, pay your remaining residence tax before you leave or appoint a tax representative.

For questions about income tax ask the tax office; about residence tax ask the {city} municipal office.'
);
