-- The registry: places, employers, employment records from the government feed, LINE subscribers.
-- Ids compared and sorted often (worker ids, LINE user ids, establishment ids) use the "C" collation:
-- byte order is deterministic everywhere and much faster than a linguistic collation.

-- 47 prefectures (JIS X 0401), so that a municipality outside Gunma still shows where it is.
CREATE TABLE prefectures (
    code    text PRIMARY KEY,
    name_ja text    NOT NULL,
    name_en text    NOT NULL
);

INSERT INTO prefectures (code, name_ja, name_en) VALUES
    ('01', '北海道', 'Hokkaido'), ('02', '青森県', 'Aomori'), ('03', '岩手県', 'Iwate'),
    ('04', '宮城県', 'Miyagi'), ('05', '秋田県', 'Akita'), ('06', '山形県', 'Yamagata'),
    ('07', '福島県', 'Fukushima'), ('08', '茨城県', 'Ibaraki'), ('09', '栃木県', 'Tochigi'),
    ('10', '群馬県', 'Gunma'), ('11', '埼玉県', 'Saitama'), ('12', '千葉県', 'Chiba'),
    ('13', '東京都', 'Tokyo'), ('14', '神奈川県', 'Kanagawa'), ('15', '新潟県', 'Niigata'),
    ('16', '富山県', 'Toyama'), ('17', '石川県', 'Ishikawa'), ('18', '福井県', 'Fukui'),
    ('19', '山梨県', 'Yamanashi'), ('20', '長野県', 'Nagano'), ('21', '岐阜県', 'Gifu'),
    ('22', '静岡県', 'Shizuoka'), ('23', '愛知県', 'Aichi'), ('24', '三重県', 'Mie'),
    ('25', '滋賀県', 'Shiga'), ('26', '京都府', 'Kyoto'), ('27', '大阪府', 'Osaka'),
    ('28', '兵庫県', 'Hyogo'), ('29', '奈良県', 'Nara'), ('30', '和歌山県', 'Wakayama'),
    ('31', '鳥取県', 'Tottori'), ('32', '島根県', 'Shimane'), ('33', '岡山県', 'Okayama'),
    ('34', '広島県', 'Hiroshima'), ('35', '山口県', 'Yamaguchi'), ('36', '徳島県', 'Tokushima'),
    ('37', '香川県', 'Kagawa'), ('38', '愛媛県', 'Ehime'), ('39', '高知県', 'Kochi'),
    ('40', '福岡県', 'Fukuoka'), ('41', '佐賀県', 'Saga'), ('42', '長崎県', 'Nagasaki'),
    ('43', '熊本県', 'Kumamoto'), ('44', '大分県', 'Oita'), ('45', '宮崎県', 'Miyazaki'),
    ('46', '鹿児島県', 'Kagoshima'), ('47', '沖縄県', 'Okinawa');

-- Municipalities with names for message placeholders and statistics. Gunma's 35 are seeded; the feed
-- may name any municipality in Japan, which is stored by its code even when no name is known here.
CREATE TABLE municipalities (
    code    text PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
    name_ja text    NOT NULL,
    name_en text    NOT NULL
);

INSERT INTO municipalities (code, name_ja, name_en) VALUES
    ('102016', '前橋市', 'Maebashi'),
    ('102024', '高崎市', 'Takasaki'),
    ('102032', '桐生市', 'Kiryu'),
    ('102041', '伊勢崎市', 'Isesaki'),
    ('102059', '太田市', 'Ota'),
    ('102067', '沼田市', 'Numata'),
    ('102075', '館林市', 'Tatebayashi'),
    ('102083', '渋川市', 'Shibukawa'),
    ('102091', '藤岡市', 'Fujioka'),
    ('102105', '富岡市', 'Tomioka'),
    ('102113', '安中市', 'Annaka'),
    ('102121', 'みどり市', 'Midori'),
    ('103446', '榛東村', 'Shinto'),
    ('103454', '吉岡町', 'Yoshioka'),
    ('103667', '上野村', 'Ueno'),
    ('103675', '神流町', 'Kanna'),
    ('103829', '下仁田町', 'Shimonita'),
    ('103837', '南牧村', 'Nanmoku'),
    ('103845', '甘楽町', 'Kanra'),
    ('104213', '中之条町', 'Nakanojo'),
    ('104248', '長野原町', 'Naganohara'),
    ('104256', '嬬恋村', 'Tsumagoi'),
    ('104264', '草津町', 'Kusatsu'),
    ('104281', '高山村', 'Takayama'),
    ('104299', '東吾妻町', 'Higashiagatsuma'),
    ('104434', '片品村', 'Katashina'),
    ('104442', '川場村', 'Kawaba'),
    ('104485', '昭和村', 'Showa'),
    ('104493', 'みなかみ町', 'Minakami'),
    ('104647', '玉村町', 'Tamamura'),
    ('105210', '板倉町', 'Itakura'),
    ('105228', '明和町', 'Meiwa'),
    ('105236', '千代田町', 'Chiyoda'),
    ('105244', '大泉町', 'Oizumi'),
    ('105252', '邑楽町', 'Ora');

-- Workplaces (事業所) as the feed reports them; the newest report wins.
CREATE TABLE establishments (
    establishment_id  text COLLATE "C" PRIMARY KEY,
    name              text,
    address           text,
    municipality_code text     NOT NULL,
    reported_at       timestamptz NOT NULL,
    event_id          uuid        NOT NULL,
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX establishments_city ON establishments (municipality_code);

-- One row per worker and workplace: the facts the feed reported about that employment. Each slot keeps
-- the newest fact by its key (effective date, reported_at, event_id), so the final state does not depend
-- on the order in which facts arrive (see services/router/domain/employment.py):
--   attrs:      nationality, status of residence, period of stay, city (from every kind of fact)
--   hired:      the newest hire at this workplace
--   separated:  the newest separation from this workplace
-- "active" derives from the last two: a separation ends the hire it follows, a later re-hire resumes it.
-- Names, birth years and sex are not kept: routing does not need them.
CREATE TABLE employments (
    worker_id             text COLLATE "C" NOT NULL,
    establishment_id      text COLLATE "C" NOT NULL,
    municipality_code     text     NOT NULL,
    nationality           text        NOT NULL,
    residence_status      text        NOT NULL,
    period_expires_on     date,
    attrs_on              date        NOT NULL,
    attrs_reported_at     timestamptz NOT NULL,
    attrs_event_id        uuid        NOT NULL,
    hired_on              date,
    hired_reported_at     timestamptz,
    hired_event_id        uuid,
    separated_on          date,
    separated_reported_at timestamptz,
    separated_event_id    uuid,
    source                text        NOT NULL,
    active                boolean GENERATED ALWAYS AS (
        separated_on IS NULL
        OR (hired_on IS NOT NULL
            AND (hired_on > separated_on
                 OR (hired_on = separated_on AND hired_reported_at > separated_reported_at)))
    ) STORED,
    first_seen_at         timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (worker_id, establishment_id)
);

-- LINE subscribers. What the worker told us (declared_*) and, when they consented to link their
-- employment record, what the feed says (record_*, refreshed whenever a fact about the worker arrives).
-- The generated columns are what audiences and statistics use:
--   * employer and city: the record's, unless the worker declared an employer (registration code) more
--     recently than the record's last hire or separation (the feed lags by weeks);
--   * nationality and status of residence: the record's when linked, else the declared ones.
CREATE TABLE subscribers (
    line_user_id               text COLLATE "C" PRIMARY KEY CHECK (line_user_id ~ '^U[0-9a-f]{32}$'),
    language                   text,
    followed                   boolean     NOT NULL DEFAULT true,
    -- LINE's timestamp of the follow or unfollow applied last; an older one is ignored
    follow_changed_at          timestamptz,
    first_followed_at          timestamptz,
    -- LINE reported the user as unreachable (blocked, unknown); a later follow clears it
    unreachable_at             timestamptz,
    -- "stop everything": followed, but receives nothing until they resume
    stopped_at                 timestamptz,
    opted_out_categories       text[]      NOT NULL DEFAULT '{}',
    declared_municipality_code text,
    declared_nationality       text,
    declared_residence_status  text,
    declared_establishment_id  text COLLATE "C",
    declared_establishment_on  date,
    -- link to the employment record: only with recorded consent
    worker_id                  text COLLATE "C" CHECK (worker_id ~ '^[0-9a-f]{64}$'),
    consented_at               timestamptz,
    consent_version            text,
    record_establishment_id    text COLLATE "C",
    record_municipality_code   text,
    record_nationality         text,
    record_residence_status    text,
    record_period_expires_on   date,
    record_state_on            date,
    establishment_id           text COLLATE "C" GENERATED ALWAYS AS (
        CASE WHEN worker_id IS NOT NULL AND record_state_on IS NOT NULL
                  AND (declared_establishment_on IS NULL OR record_state_on >= declared_establishment_on)
             THEN record_establishment_id
             ELSE declared_establishment_id END
    ) STORED,
    municipality_code          text GENERATED ALWAYS AS (
        CASE WHEN worker_id IS NOT NULL AND record_state_on IS NOT NULL
                  AND record_municipality_code IS NOT NULL
                  AND (declared_establishment_on IS NULL OR record_state_on >= declared_establishment_on)
             THEN record_municipality_code
             ELSE declared_municipality_code END
    ) STORED,
    nationality                text GENERATED ALWAYS AS (
        COALESCE(CASE WHEN worker_id IS NOT NULL THEN record_nationality END, declared_nationality)
    ) STORED,
    residence_status           text GENERATED ALWAYS AS (
        COALESCE(CASE WHEN worker_id IS NOT NULL THEN record_residence_status END, declared_residence_status)
    ) STORED,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscribers_link_needs_consent
        CHECK ((worker_id IS NULL) = (consented_at IS NULL) AND (worker_id IS NULL) = (consent_version IS NULL))
);
-- One LINE account per worker: linking another account moves the link.
CREATE UNIQUE INDEX subscribers_worker ON subscribers (worker_id) WHERE worker_id IS NOT NULL;

-- Erased subscribers leave nothing but these anonymous counts.
CREATE TABLE subscriber_erasures (
    erased_on date    PRIMARY KEY,
    erasures  integer NOT NULL
);
