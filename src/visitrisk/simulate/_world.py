"""The static part of the simulated world: places, people, traits, loans, schedules, staff.

Everything here is drawn once, before the first simulated day, and never changes: the day
by day dynamics (:mod:`visitrisk.simulate._dynamics`) only read it. Days are integer day
numbers (days since 1970-01-01) and money is integer cents, so that arithmetic is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__: list[str] = []

SEGMENTS = ("farmer", "cooperative", "small_business", "salaried")
PRODUCTS = ("farm_operating", "farm_equipment", "consumer", "mortgage", "microbusiness")
LATENT_GROUPS = ("able_disorganised", "able_organised", "unable", "averse")
OUTCOMES = (
    "met",
    "promise_to_pay",
    "paid_on_site",
    "restructure_requested",
    "refused",
    "not_found",
    "other",
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

FARMER, COOPERATIVE, SMALL_BUSINESS, SALARIED = range(4)
FARM_OPERATING, FARM_EQUIPMENT, CONSUMER, MORTGAGE, MICROBUSINESS = range(5)
ABLE_DISORGANISED, ABLE_ORGANISED, UNABLE, AVERSE = range(4)

#: Sentinel day numbers: "never happened" and "not delinquent".
NEVER = -1_000_000
NOT_DELINQUENT = 1_000_000

# A rural province of central China (roughly Hunan): latitude, longitude box in degrees.
_PROVINCE_BOX = (26.0, 29.5, 110.0, 114.0)
_KM_PER_DEGREE = 111.2

_SEGMENT_SHARE = np.array([0.46, 0.04, 0.25, 0.25])
# Mean ability to pay on the logit scale, by segment: salaried incomes are steadiest.
_ABILITY_LOGIT_MEAN = np.array([0.8, 1.3, 1.1, 1.7])

# Principal (median CNY, lognormal sigma 0.5) and annual rate range, by product.
_PRINCIPAL_MEDIAN = np.array([30_000.0, 80_000.0, 20_000.0, 350_000.0, 100_000.0])
_RATE_RANGE = np.array(
    [[0.0435, 0.055], [0.05, 0.065], [0.06, 0.09], [0.041, 0.049], [0.055, 0.075]]
)

_COUNTY_CHARS = (
    "安宁平新永长临桃湘武龙石云清丰华兴嘉双茶",
    "乡阳江化源山陵溪水田县口冈岭州城桥湖坪塘",
)
_TOWNSHIP_CHARS = (
    "白黄金青大小东西南北上下高中新古花杨柳梅松竹马牛龙凤石沙桥河",
    "田坪塘江溪山岭冲湾铺市桥口洲坝源林湖港庄",
    "镇乡",
)
_VILLAGE_CHARS = (
    ("", "新", "上", "下", "东", "西", "大", "小"),
    "王李张刘陈杨黄赵周吴徐孙朱马胡郭林何高罗郑梁谢宋唐许邓冯韩曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈",
    "家庄塘湾坪冲岭桥坡垅园铺港洲坝",
    "村",
)
_SURNAMES = _VILLAGE_CHARS[1]
_GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国志文斌海波辉鹏飞春梅林云峰亮红霞"
)

# Weights of the Chinese resident identity number checksum (GB 11643-1999).
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))


@dataclass(frozen=True, eq=False)
class Places:
    """Branches, townships and villages, with coordinates (degrees) and names."""

    branch_name: np.ndarray
    branch_lat: np.ndarray
    branch_lon: np.ndarray
    township_branch: np.ndarray
    township_name: np.ndarray
    village_township: np.ndarray
    village_name: np.ndarray
    village_lat: np.ndarray
    village_lon: np.ndarray


@dataclass(frozen=True, eq=False)
class People:
    """Customers: where they live, what they are, and their latent traits.

    ``cure_rate`` (the daily catch-up hazard before calendar, duration and visit factors),
    ``miss_logit`` (log-odds of missing an installment) and ``visit_response`` (the factor a
    first visit multiplies the catch-up hazard by) are functions of the traits and never
    appear in a contract table.
    """

    village: np.ndarray
    township: np.ndarray
    branch: np.ndarray
    segment: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    distance_km: np.ndarray
    do_not_visit: np.ndarray
    ability: np.ndarray
    disorganisation: np.ndarray
    willingness: np.ndarray
    latent_group: np.ndarray
    cure_rate: np.ndarray
    #: ``township * 4 + segment``: where the day's calendar factors are looked up.
    township_segment: np.ndarray
    miss_logit: np.ndarray
    visit_response: np.ndarray
    name: np.ndarray
    national_id: np.ndarray
    phone: np.ndarray

    def __len__(self) -> int:
        return len(self.segment)


@dataclass(frozen=True, eq=False)
class Book:
    """Loans (sorted by customer) and their installments (sorted by due day, then loan)."""

    loan_customer: np.ndarray
    loan_product: np.ndarray
    loan_origination: np.ndarray
    loan_maturity: np.ndarray
    loan_principal: np.ndarray
    loan_rate: np.ndarray
    #: First loan of each customer in the loan arrays, and how many loans it has.
    customer_first_loan: np.ndarray
    customer_loan_count: np.ndarray
    installment_loan: np.ndarray
    installment_due: np.ndarray
    installment_cents: np.ndarray
    installment_balloon: np.ndarray
    #: Loan indices in origination order.
    origination_order: np.ndarray


@dataclass(frozen=True, eq=False)
class Staff:
    """Collection officers: home branch, daily visit capacity, weekdays, absences."""

    branch: np.ndarray
    visits_per_day: np.ndarray
    #: ``weekdays[o, k]`` is True when officer o works on weekday k (0 = Monday).
    weekdays: np.ndarray
    #: Extra branch each officer may cover (-1 for none): used by planners, not history.
    covers: np.ndarray
    #: Days of leave, sorted by day.
    absent_officer: np.ndarray
    absent_day: np.ndarray


@dataclass(frozen=True, eq=False)
class World:
    """Everything drawn once: calendar bounds, places, people, book, staff, township shocks.

    ``start`` is the first simulated day, ``as_of`` the last day of the exported history,
    ``end`` the last day for which loans and shocks exist (room for forward simulation).
    ``bad_harvest[township, year - first_year]`` marks a bad harvest in that township that
    hits incomes from July of that year to March of the next.
    """

    start: int
    as_of: int
    end: int
    first_year: int
    effect: str
    places: Places
    people: People
    book: Book
    staff: Staff
    bad_harvest: np.ndarray


def month_of(day: int | np.ndarray) -> np.ndarray:
    """Calendar month (1-12) of day numbers."""
    months = np.asarray(day).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months % 12 + 1


def year_of(day: int | np.ndarray) -> np.ndarray:
    """Calendar year of day numbers."""
    return np.asarray(day).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def weekday_of(day: int | np.ndarray) -> np.ndarray:
    """Weekday of day numbers, 0 = Monday (1970-01-01 was a Thursday)."""
    return (np.asarray(day) + 3) % 7


def day_of_month(day: int) -> int:
    """Day of the month (1-31) of a day number."""
    date = np.datetime64(int(day), "D")
    return int((date - date.astype("datetime64[M]")).astype(np.int64)) + 1


def _add_months(day: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Return the same day of the month ``months`` later (days 29-31 become the 28th).

    Month arithmetic goes through a table of month starts, so it costs two lookups.
    """
    month = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    low = int(month.min())
    starts = np.arange(low, int(month.max()) + int(np.max(months)) + 2)
    month_start = starts.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    offset = np.minimum(day - month_start[month - low], 27)
    return month_start[month - low + months] + offset


def _unique_names(
    rng: np.random.Generator, parts: tuple[str | tuple[str, ...], ...], count: int
) -> np.ndarray:
    """``count`` distinct names, one element (character) of every part each, then numbered."""
    sizes = [len(part) for part in parts]
    space = int(np.prod(sizes))
    order = rng.permutation(space)[np.arange(count) % space]
    names = np.full(count, "", dtype=object)
    for part, size, stride in zip(parts, sizes, np.cumprod([1, *sizes[:0:-1]])[::-1], strict=True):
        names = names + np.array(list(part), dtype=object)[(order // stride) % size]
    repeat = np.arange(count) // space
    suffix = np.where(repeat > 0, (repeat + 1).astype(str), "")
    return (names + suffix.astype(object)).astype(str)


def _around(rng, lat, lon, min_km, max_km):
    """Points at a random bearing and distance (km) from the given centres."""
    bearing = rng.uniform(0, 2 * np.pi, len(lat))
    distance = rng.uniform(min_km, max_km, len(lat))
    new_lat = lat + distance * np.cos(bearing) / _KM_PER_DEGREE
    new_lon = lon + distance * np.sin(bearing) / (_KM_PER_DEGREE * np.cos(np.radians(lat)))
    return new_lat, new_lon


def _distance_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Equirectangular distance; exact enough below 100 km."""
    mean_lat = np.radians((lat1 + lat2) / 2)
    dx = (lon2 - lon1) * np.cos(mean_lat)
    return _KM_PER_DEGREE * np.hypot(lat2 - lat1, dx)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def make_places(rng: np.random.Generator, n_customers: int) -> Places:
    """Branches in county towns, 4-9 townships around each, 6-14 villages per township."""
    lat_min, lat_max, lon_min, lon_max = _PROVINCE_BOX
    n_branches = int(np.clip(round(n_customers / 2500), 3, 400))
    branch_lat = rng.uniform(lat_min, lat_max, n_branches)
    branch_lon = rng.uniform(lon_min, lon_max, n_branches)
    townships_per_branch = rng.integers(4, 10, n_branches)
    township_branch = np.repeat(np.arange(n_branches), townships_per_branch)
    township_lat, township_lon = _around(
        rng, branch_lat[township_branch], branch_lon[township_branch], 4, 28
    )
    villages_per_township = rng.integers(6, 15, len(township_branch))
    village_township = np.repeat(np.arange(len(township_branch)), villages_per_township)
    village_lat, village_lon = _around(
        rng, township_lat[village_township], township_lon[village_township], 0.5, 6
    )
    return Places(
        branch_name=np.char.add(_unique_names(rng, _COUNTY_CHARS, n_branches), "支行"),
        branch_lat=branch_lat,
        branch_lon=branch_lon,
        township_branch=township_branch,
        township_name=_unique_names(rng, _TOWNSHIP_CHARS, len(township_branch)),
        village_township=village_township,
        village_name=_unique_names(rng, _VILLAGE_CHARS, len(village_township)),
        village_lat=village_lat,
        village_lon=village_lon,
    )


def _personal_data(rng: np.random.Generator, n: int, as_of: int):
    """Fake but well-formed names, 18-digit identity numbers (valid checksum) and mobiles."""
    surname = np.array(list(_SURNAMES))[rng.integers(0, len(_SURNAMES), n)]
    given_chars = np.array(list(_GIVEN_CHARS))
    given = given_chars[rng.integers(0, len(given_chars), n)]
    second = np.where(rng.random(n) < 0.7, given_chars[rng.integers(0, len(given_chars), n)], "")
    name = np.char.add(np.char.add(surname, given), second)

    # Region 43PPCC (the province, a prefecture, a county), birth date, sequence, checksum.
    region = 430000 + rng.integers(1, 14, n) * 100 + rng.integers(1, 30, n)
    birth = (as_of - rng.integers(22 * 365, 70 * 365, n)).astype("datetime64[D]")
    birth_digits = np.char.replace(np.datetime_as_string(birth, unit="D"), "-", "")
    sequence = rng.integers(0, 1000, n)
    body = np.char.add(
        np.char.add(region.astype(str), birth_digits), np.char.zfill(sequence.astype(str), 3)
    )
    digits = body.astype("S17").view("S1").reshape(n, 17).astype(np.int64)
    national_id = np.char.add(body, _ID_CHECK[(digits @ _ID_WEIGHTS) % 11])

    prefix = np.array(["13", "15", "17", "18", "19"])[rng.integers(0, 5, n)]
    phone = np.char.add(prefix, np.char.zfill(rng.integers(0, 10**9, n).astype(str), 9))
    return name, national_id, phone


def make_people(
    rng: np.random.Generator, places: Places, n_customers: int, as_of: int, effect: str
) -> People:
    """Place customers in villages and draw their segments and latent traits.

    Traits: ability to pay ``a`` (logit-normal by segment, lower in remote villages),
    disorganisation ``g`` ~ Beta(2, 3), willingness ``w`` ~ Beta(5, 2), and about 12 % who
    react badly to visits (more among the unwilling).
    """
    n = n_customers
    n_branches = len(places.branch_lat)
    branch_weight = rng.lognormal(0.0, 0.4, n_branches)
    village_weight = rng.lognormal(0.0, 0.5, len(places.village_township))
    village_weight *= branch_weight[places.township_branch[places.village_township]]
    village = rng.choice(len(village_weight), size=n, p=village_weight / village_weight.sum())
    township = places.village_township[village]
    branch = places.township_branch[township]
    lat, lon = _around(rng, places.village_lat[village], places.village_lon[village], 0.0, 0.8)
    distance_km = _distance_km(places.branch_lat[branch], places.branch_lon[branch], lat, lon)

    segment = rng.choice(len(SEGMENTS), size=n, p=_SEGMENT_SHARE)
    ability = _sigmoid(_ABILITY_LOGIT_MEAN[segment] + rng.normal(0, 1, n) - distance_km / 40)
    disorganisation = rng.beta(2, 3, n)
    willingness = rng.beta(5, 2, n)
    averse = rng.random(n) < 0.06 + 0.2 * (1 - willingness)

    able = ability >= 0.45
    latent_group = np.select(
        [averse, ~able, disorganisation >= 0.45],
        [AVERSE, UNABLE, ABLE_DISORGANISED],
        ABLE_ORGANISED,
    )
    # The visit factor: large when able but disorganised (a reminder is what they lack),
    # ~1 when unable (a visit cannot create income), below 1 when the visit offends.
    responsive = np.clip((ability - 0.3) / 0.6, 0, 1) * (0.15 + 0.85 * disorganisation)
    log_response = np.where(averse, -rng.uniform(0.2, 0.9, n), 2.0 * responsive)
    visit_response = np.exp(log_response) if effect == "heterogeneous" else np.ones(n)

    cure_log_rate = (
        -4.0 + 1.2 * (ability - 0.6) + 0.8 * (willingness - 0.7) - 0.6 * (disorganisation - 0.4)
    )
    miss_logit = (
        -1.6 + 2.5 * (0.6 - ability) + 2.5 * (disorganisation - 0.4) - 1.2 * (willingness - 0.7)
    )
    name, national_id, phone = _personal_data(rng, n, as_of)
    return People(
        village=village,
        township=township,
        branch=branch,
        segment=segment,
        lat=lat,
        lon=lon,
        distance_km=distance_km,
        do_not_visit=rng.random(n) < 0.01,
        ability=ability,
        disorganisation=disorganisation,
        willingness=willingness,
        latent_group=latent_group,
        cure_rate=np.exp(cure_log_rate),
        township_segment=township * len(SEGMENTS) + segment,
        miss_logit=miss_logit,
        visit_response=visit_response,
        name=name,
        national_id=national_id,
        phone=phone,
    )


def _chain_loans(rng, customers, product, term_choices, start, first_by, gap_days, keep, end):
    """Draw renewed loans, returning (customer, product, origination, term_months) arrays.

    The first loan is still running on ``start`` or drawn by ``first_by``; then, with
    probability ``keep`` each time, a new one follows some days after each maturity.
    """
    out = []
    term = rng.choice(term_choices, len(customers))
    origination = rng.integers(start + 30 - 30 * term, first_by + 1)
    alive = np.ones(len(customers), dtype=bool)
    while alive.any():
        alive &= origination <= end
        out.append((customers[alive], origination[alive], term[alive]))
        maturity = _add_months(origination, term)
        origination = maturity + rng.integers(gap_days[0], gap_days[1], len(customers))
        term = rng.choice(term_choices, len(customers))
        alive &= rng.random(len(customers)) < keep
    customer = np.concatenate([c for c, _, _ in out])
    return (
        customer,
        np.full(len(customer), product),
        np.concatenate([o for _, o, _ in out]),
        np.concatenate([t for _, _, t in out]),
    )


def _single_loans(rng, customers, share, product, term_choices, window):
    """One loan for a random ``share`` of ``customers``, originated uniformly in ``window``."""
    chosen = customers[rng.random(len(customers)) < share]
    origination = rng.integers(window[0], window[1], len(chosen))
    term = rng.choice(term_choices, len(chosen))
    return chosen, np.full(len(chosen), product), origination, term


def _farm_operating(rng, customers, start, end):
    """Seasonal loans: drawn Feb-Apr, interest quarterly, principal balloon after harvest."""
    years = np.arange(year_of(start) - 1, year_of(end) + 1)
    customer = np.repeat(customers, len(years))
    year = np.tile(years, len(customers))
    taken = rng.random(len(customer)) < 0.88
    customer, year = customer[taken], year[taken]
    jan1 = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    origination = jan1 + 31 + rng.integers(0, 89, len(year))
    maturity = jan1 + 318 + rng.integers(0, 45, len(year))  # 15 Nov - 29 Dec
    return customer, origination, maturity


def make_book(
    rng: np.random.Generator, people: People, start: int, first_by: int, end: int
) -> Book:
    """Draw loans of every product with their full repayment schedules.

    Farmers and cooperatives renew a seasonal operating loan most years; small businesses
    renew microbusiness loans, salaried customers consumer loans; some add equipment,
    consumer or mortgage loans. Every customer holds a loan running on ``start`` or drawn
    by ``first_by`` (a consumer loan for the few who would otherwise have none). Loans
    fully repaid before ``start`` are left out; loans originated after ``start`` (up to
    ``end``) are granted or declined during the simulation.
    """
    seg = people.segment
    ids = np.arange(len(seg))
    farmers = ids[(seg == FARMER) | (seg == COOPERATIVE)]
    business = ids[seg == SMALL_BUSINESS]
    salaried = ids[seg == SALARIED]
    lookback = start - 3 * 365

    monthly = [
        _chain_loans(
            rng, business, MICROBUSINESS, [12, 24, 24, 36], start, first_by, (0, 150), 0.75, end
        ),
        _chain_loans(rng, salaried, CONSUMER, [12, 24, 36], start, first_by, (0, 240), 0.6, end),
        _single_loans(rng, farmers, 0.3, FARM_EQUIPMENT, [24, 36, 48], (lookback, end)),
        _single_loans(
            rng, np.concatenate([farmers, business]), 0.15, CONSUMER, [12, 24], (start - 600, end)
        ),
        _single_loans(rng, salaried, 0.18, MORTGAGE, [120, 180, 240], (start - 5 * 365, end)),
        _single_loans(rng, business, 0.06, MORTGAGE, [120, 180], (start - 5 * 365, end)),
    ]
    m_customer = np.concatenate([part[0] for part in monthly])
    m_product = np.concatenate([part[1] for part in monthly])
    m_origination = np.concatenate([part[2] for part in monthly])
    m_term = np.concatenate([part[3] for part in monthly])
    m_maturity = _add_months(m_origination, m_term)

    f_customer, f_origination, f_maturity = _farm_operating(rng, farmers, start, end)

    customer = np.concatenate([m_customer, f_customer])
    product = np.concatenate([m_product, np.full(len(f_customer), FARM_OPERATING)])
    origination = np.concatenate([m_origination, f_origination])
    maturity = np.concatenate([m_maturity, f_maturity])
    term = np.concatenate([m_term, np.zeros(len(f_customer), dtype=np.int64)])
    keep = (maturity >= start) & (origination <= end)
    customer, product, origination, maturity, term = (
        a[keep] for a in (customer, product, origination, maturity, term)
    )

    early = np.bincount(customer[origination <= first_by], minlength=len(seg))
    without = ids[early == 0]
    extra_term = rng.choice([12, 24], len(without))
    extra_origination = rng.integers(start, first_by + 1, len(without))
    customer = np.concatenate([customer, without])
    product = np.concatenate([product, np.full(len(without), CONSUMER)])
    origination = np.concatenate([origination, extra_origination])
    maturity = np.concatenate([maturity, _add_months(extra_origination, extra_term)])
    term = np.concatenate([term, extra_term])

    median = _PRINCIPAL_MEDIAN[product] * np.where(
        (seg[customer] == COOPERATIVE) & (product == FARM_OPERATING), 6.0, 1.0
    )
    principal = np.round(median * rng.lognormal(0, 0.5, len(product)), -2)
    low, high = _RATE_RANGE[product].T
    rate = np.round(rng.uniform(low, high), 4)

    order = np.lexsort((origination, customer))
    customer, product, origination, maturity, term, principal, rate = (
        a[order] for a in (customer, product, origination, maturity, term, principal, rate)
    )
    loan_count = np.bincount(customer, minlength=len(seg))
    first_loan = np.concatenate([[0], np.cumsum(loan_count)[:-1]])

    inst = _schedules(rng, product, origination, maturity, term, principal, rate)
    order = np.lexsort((inst[0], inst[1]))
    return Book(
        loan_customer=customer,
        loan_product=product,
        loan_origination=origination,
        loan_maturity=maturity,
        loan_principal=principal,
        loan_rate=rate,
        customer_first_loan=first_loan,
        customer_loan_count=loan_count,
        installment_loan=inst[0][order],
        installment_due=inst[1][order],
        installment_cents=inst[2][order],
        installment_balloon=inst[3][order],
        origination_order=np.argsort(origination, kind="stable"),
    )


def _schedules(rng, product, origination, maturity, term, principal, rate):
    """Installments (loan, due day, cents, is_balloon) of every loan."""
    loans = np.arange(len(product))
    principal_cents = np.round(principal * 100).astype(np.int64)

    # Monthly annuities, after 0-3 interest-free grace months for equipment loans.
    monthly = loans[product != FARM_OPERATING]
    grace = np.where(product[monthly] == FARM_EQUIPMENT, rng.integers(0, 4, len(monthly)), 0)
    n_inst = term[monthly]
    paying = n_inst - grace
    r = rate[monthly] / 12
    p = principal_cents[monthly].astype(float)
    annuity = p * r / (1 - (1 + r) ** -paying)
    growth = (1 + r) ** (paying - 1)
    last = (p * growth - annuity * (growth - 1) / r) * (1 + r)  # the balance left, with interest
    position = np.repeat(np.arange(len(monthly)), n_inst)
    k = np.arange(len(position)) - np.repeat(np.cumsum(n_inst) - n_inst, n_inst) + 1
    due = _add_months(origination[monthly][position], k)
    j = k - grace[position]  # payment number after grace
    amount = np.where(
        j == paying[position], np.round(last)[position], np.round(annuity)[position]
    ).astype(np.int64)
    amount[j < 1] = 0
    monthly_rows = (monthly[position], due, amount, np.zeros(len(position), dtype=bool))

    # Seasonal loans: interest every three months before maturity, then the balloon.
    farm = loans[product == FARM_OPERATING]
    loan = np.repeat(farm, 3)
    k = np.tile(np.arange(1, 4), len(farm))
    due = _add_months(origination[loan], 3 * k)
    keep = due < maturity[loan] - 30
    loan, due = loan[keep], due[keep]
    loan = np.concatenate([loan, farm])
    due = np.concatenate([due, maturity[farm]])
    balloon = np.concatenate([np.zeros(len(due) - len(farm), dtype=bool), np.ones(len(farm), bool)])
    order = np.lexsort((due, loan))
    loan, due, balloon = loan[order], due[order], balloon[order]
    previous = np.where(np.r_[True, loan[1:] != loan[:-1]], origination[loan], np.r_[0, due[:-1]])
    interest = principal_cents[loan] * rate[loan] * (due - previous) / 365
    amount = np.round(interest + np.where(balloon, principal_cents[loan], 0)).astype(np.int64)
    farm_rows = (loan, due, amount, balloon)
    return tuple(np.concatenate([a, b]) for a, b in zip(monthly_rows, farm_rows, strict=True))


def make_staff(rng: np.random.Generator, places: Places, people: People, start: int, end: int):
    """About one officer per 1,100 customers (at least one per branch), 4-8 visits a day."""
    n_branches = len(places.branch_lat)
    customers_per_branch = np.bincount(people.branch, minlength=n_branches)
    officers_per_branch = np.maximum(1, np.round(customers_per_branch / 1500)).astype(np.int64)
    branch = np.repeat(np.arange(n_branches), officers_per_branch)
    n = len(branch)
    visits_per_day = rng.choice([4, 5, 6, 6, 8], n)
    weekdays = np.zeros((n, 7), dtype=bool)
    weekdays[:, :5] = True
    weekdays[:, 5] = rng.random(n) < 0.15

    # A few officers also cover the nearest other branch.
    distance = _distance_km(
        places.branch_lat[:, None],
        places.branch_lon[:, None],
        places.branch_lat[None, :],
        places.branch_lon[None, :],
    )
    np.fill_diagonal(distance, np.inf)
    covers = np.where(rng.random(n) < 0.1, np.argmin(distance, axis=1)[branch], -1)

    # About six days of leave a year each, past and planned.
    n_absent = rng.poisson(6 * (end - start) / 365, n)
    absent_officer = np.repeat(np.arange(n), n_absent)
    absent_day = rng.integers(start, end + 1, len(absent_officer))
    day, officer = np.unique(np.stack([absent_day, absent_officer]), axis=1)
    return Staff(
        branch=branch,
        visits_per_day=visits_per_day,
        weekdays=weekdays,
        covers=covers,
        absent_officer=officer,
        absent_day=day,
    )


def make_bad_harvests(rng: np.random.Generator, places: Places, start: int, end: int):
    """Per township and year, a bad harvest with probability 12 %; first year and flags."""
    first_year = int(year_of(start)) - 1
    n_years = int(year_of(end)) - first_year + 1
    return first_year, rng.random((len(places.township_name), n_years)) < 0.12
