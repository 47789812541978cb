"""The seed catalogue: connections, roles, named organizations and people (data only)."""

from __future__ import annotations

from typing import Any


def _words(text: str) -> list[str]:
    return text.split()


ACME_ROLE_HEAVY = ("auth0|65f0a1b2c3d4e5f60718293a", "auth0|65f0a1b2c3d4e5f60718293b")

# --- connections --------------------------------------------------------------------------------

# name, strategy, display_name, is_domain_connection, options
CONNECTIONS: list[tuple[str, str, str | None, bool, dict[str, Any]]] = [
    (
        "Username-Password-Authentication",
        "auth0",
        None,
        False,
        {
            "mfa": {"active": True, "return_enroll_settings": True},
            "passwordPolicy": "good",
            "brute_force_protection": True,
            "strategy_version": 2,
            "disable_signup": False,
            "password_complexity_options": {"min_length": 8},
        },
    ),
    (
        "google-oauth2",
        "google-oauth2",
        "Google",
        True,
        {
            "email": True,
            "profile": True,
            "scope": ["email", "profile"],
        },
    ),
    (
        "acme-saml",
        "samlp",
        "Acme SAML",
        False,
        {
            "signInEndpoint": "https://idp.acme.example/saml2/sso",
            "signatureAlgorithm": "rsa-sha256",
            "digestAlgorithm": "sha256",
            "tenant_domain": "acme.example",
            "domain_aliases": ["acme.example"],
            "signingCert": "MIIDazCCAlOgAwIBAgIUSandboxOnly==",
        },
    ),
    (
        "okta-workforce",
        "okta",
        "Okta Workforce",
        False,
        {
            "domain": "acme-corp.okta.com",
            "client_id": "0oa1sandbox2okta3id4",
            "domain_aliases": ["acme-corp.example"],
            "scope": "openid profile email",
        },
    ),
    (
        "contoso-azure-ad",
        "waad",
        "Contoso (Entra ID)",
        True,
        {
            "tenant_domain": "contoso.onmicrosoft.com",
            "client_id": "7f9c0e5a-sandbox-waad",
            "waad_protocol": "openid-connect",
            "domain_aliases": ["contoso.example"],
            "use_wsfed": False,
            "identity_api": "microsoft-identity-platform-v2.0",
        },
    ),
    (
        "corp-oidc",
        "oidc",
        "Corporate SSO",
        False,
        {
            "type": "back_channel",
            "issuer": "https://login.corp.example",
            "client_id": "corp-sandbox-client",
            "scope": "openid profile email",
            "discovery_url": "https://login.corp.example/.well-known/openid-configuration",
        },
    ),
    (
        "acme-ad",
        "ad",
        "Acme Active Directory",
        False,
        {
            "ips": [],
            "domain_aliases": ["acme.local"],
            "brute_force_protection": True,
        },
    ),
    (
        "email",
        "email",
        None,
        True,
        {
            "name": "email",
            "brute_force_protection": True,
            "totp": {"length": 6, "time_step": 300},
            "email": {
                "from": "{{ application.name }} <root@auth0.com>",
                "syntax": "liquid",
                "subject": "Welcome to {{ application.name }}",
            },
        },
    ),
    (
        "sms",
        "sms",
        None,
        False,
        {
            "name": "sms",
            "from": "+15555550100",
            "syntax": "md_with_macros",
            "brute_force_protection": True,
            "totp": {"length": 6, "time_step": 300},
        },
    ),
    ("github", "github", "GitHub", True, {"scope": ["read:user", "user:email"]}),
    ("linkedin", "linkedin", "LinkedIn", False, {"strategy_version": 3, "email": True}),
    (
        "partners-db",
        "auth0",
        "Partners",
        False,
        {
            "brute_force_protection": True,
            "strategy_version": 2,
            "disable_signup": True,
            "passwordPolicy": "excellent",
            "requires_username": True,
        },
    ),
]

ACME_CONNECTIONS = (  # name -> (assign_membership_on_login, show_as_button, is_signup_enabled)
    ("Username-Password-Authentication", True, True, True),
    ("google-oauth2", False, True, False),
    ("acme-saml", True, True, False),
    ("okta-workforce", False, False, False),
    ("corp-oidc", True, True, False),
    ("acme-ad", False, True, False),
)

# --- applications (clients) and invitations -----------------------------------------------------

# name, app_type (None: a legacy application without one), Application Login URI (the route an
# invitation link opens; None: no login route, so Auth0 cannot build an invitation link)
CLIENTS: list[tuple[str, str | None, str | None]] = [
    (
        "All Applications",
        None,
        None,
    ),  # the tenant's global client (GET /clients?is_global=false hides it)
    ("Acme Customer Portal", "regular_web", "https://portal.acme.example/login"),
    ("Acme Dashboard", "spa", "https://app.acme.example/login"),
    ("Acme Mobile", "native", "https://mobile.acme.example/login"),
    ("Billing Sync (M2M)", "non_interactive", None),
    ("Org Desk", "non_interactive", None),
    (
        "<b>Partner</b> Portal <script>alert('app')</script>",
        "regular_web",
        "https://partners.example/login",
    ),
    ("Legacy Intranet", None, "https://intranet.acme.example/login"),
]
# organization, application, inviter, invitee email, days since sent, lifetime in days,
# connection (None: any), role names
INVITATIONS: list[tuple[str, str, str, str, float, float, str | None, list[str]]] = [
    (
        "acme",
        "Acme Customer Portal",
        "Ana Souza",
        "new.hire@acme.example",
        1,
        7,
        None,
        ["Support Agent"],
    ),
    (
        "acme",
        "Acme Dashboard",
        "Ana Souza",
        "contractor@partner.example",
        3,
        30,
        "Username-Password-Authentication",
        ["Billing Viewer", "Read Only"],
    ),
    (
        "acme",
        "Acme Customer Portal",
        "<i>Mallory</i>",
        "late.joiner@acme.example",
        20,
        7,
        None,
        [],
    ),  # expired
    ("acme", "Acme Mobile", "Ana Souza", "jane@acme.example", 0.5, 2, None, []),  # already a member
    (
        "kabushiki",
        "Acme Dashboard",
        "山田 太郎",
        "tanaka@sample.example",
        2,
        14,
        None,
        ["Developer"],
    ),
]

# --- roles --------------------------------------------------------------------------------------

ROLE_AREAS = _words(
    """
    Billing Support Security Compliance Marketing Sales Engineering Finance HR Identity
    Reporting Partner Content Audit Operations
    """
)
ROLE_KINDS = [
    ("Admin", "Full access to"),
    ("Manager", "Manages"),
    ("Agent", "Handles day-to-day"),
    ("Viewer", "Read-only access to"),
]
HOSTILE_ROLE_DESCRIPTIONS = {
    "Billing Admin": "<b>Full</b> access to billing <script>alert('role')</script>",
    "Support Agent": "Handles tickets & escalations <img src=x onerror=alert(2)>",
}

# --- organizations and people -------------------------------------------------------------------

NAMED_ORGS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "acme",
        "Acme Corporation",
        {
            "branding": {
                "logo_url": "https://cdn.acme.example/logo.png",
                "colors": {"primary": "#0059d6", "page_background": "#f4f6fb"},
            },
            "metadata": {
                "plan": "enterprise",
                "region": "eu",
                "account_manager": "ana@acme.example",
            },
        },
    ),
    ("big-co", "BigCo International", {"metadata": {"plan": "enterprise"}}),
    (
        "hostile-html",
        "<img src=x onerror=alert(1)>",
        {"metadata": {"note": "<script>alert('metadata')</script>"}},
    ),
    ("kabushiki", "株式会社サンプル商事", {}),
    ("arabic-rtl", "شركة الأفق للتقنية", {}),
    (
        "zero-width",
        "Ze\u200bro\u200dWi\u200cdth Cafe\u0301 Z\u0336a\u0336l\u0336g\u0336o\u0336",
        {},
    ),
    ("long-display-name", "The Extremely Long Display Name Holding Company " * 5, {}),
]
WORDS_A = _words(
    """
    north blue silver red green bright swift iron cedar maple summit harbor pioneer stellar
    quantum golden river coastal granite crystal eagle falcon lunar solar prairie atlas
    vertex nimbus orbit delta alpine urban metro pacific atlantic polar canyon meadow
    emerald sapphire
    """
)
WORDS_B = _words(
    """
    labs systems logistics health foods energy capital media robotics analytics retail
    motors pharma security networks studios airlines insurance ventures software bank clinic
    textiles freight games outfitters realty biotech telecom consulting
    """
)
SUFFIXES = ["Inc.", "LLC", "GmbH", "Ltd", "Group", "Co.", "S.A.", "AG", "Pty Ltd", "B.V."]
FIRST = _words(
    """
    Olivia Liam Emma Noah Ava Mateo Sofia Lucas Mia Ethan Aisha Kenji Priya Omar Ingrid
    Tomás Chloé Dmitri Fatima Wei Hana Jonas Leila Rafael Nadia Sven Yara Mei Arjun Grace
    """
)
LAST = _words(
    """
    Smith Garcia Müller Rossi Kowalski Nguyen Tanaka Okafor Silva Johansson Dubois Ivanova
    Haddad Chen Patel O'Brien Novak Kim Fischer Larsen Moreau Costa Yilmaz Santos Berg
    """
)
# user_id, name, email (None: no email, e.g. an SMS user), role count
ACME_PEOPLE: list[tuple[str, str, str | None, int]] = [
    ("auth0|63d16bb11e39d8a43b8ed0f5", "Alice Martin", "alice.martin@acme.example", 2),
    ("google-oauth2|104877341839457293847", "Bruno Costa", "bruno.costa@gmail.com", 1),
    ("samlp|acme-saml|jane/doe@acme.example", "Jane Doe", "jane.doe@acme.example", 1),
    ("oidc|corp/okta|00u1abc", "Carlos Mendes", "carlos.mendes@corp.example", 3),
    ("auth0|6410784d38b3e02b77fdd660", "<b>Bob</b> <script>x</script>", "bob@acme.example", 1),
    ("auth0|5f2a9c0e7b1d4a0012ab34cd", "李小龙", "bruce.lee@acme.example", 0),
    (
        "waad|contoso.example|3f1c2a9e-5d7b-4c1a-9e2f-7a6b5c4d3e2f",
        "محمد عبد الله",
        "mohammed@contoso.example",
        2,
    ),
    ("auth0|60a7c3e2f1b8d90068c1e2a3", "Zoë Ångström", "zoe.angstrom@acme.example", 1),
    (ACME_ROLE_HEAVY[0], "Nina Fortyninerova", "nina.49@acme.example", 49),
    (ACME_ROLE_HEAVY[1], "Fifty Rolesworth", "fifty.roles@acme.example", 50),
    ("sms|64f1e2d3c4b5a69788776655", "+1 555 010 0200", None, 0),
    ("email|651a2b3c4d5e6f7a8b9c0d1e", "dana@partner.example", "dana@partner.example", 1),
]

# --- finding things -----------------------------------------------------------------------------

# Every HOLDINGS_EVERY-th generated organization (from the 6th) has a display name ending in
# "Holdings": more than 50 of them, so a search for it takes more than one page.
HOLDINGS_EVERY = 16
# Generated organizations renamed (index among the generated ones, name, display name).
RENAMED_ORGS: list[tuple[int, str, str]] = [
    (2, "kyoto-shoji", "京都商事株式会社"),
    (3, "unicode-unlimited", "Ünïcode Ünlimited GmbH"),
]
JANE = "auth0|66a1b2c3d4e5f60718293a4c"
SHARED_EMAIL = "sam.lee@shared.example"
SHARED_USERS = ("auth0|66a1b2c3d4e5f60718293a4d", "google-oauth2|118234567890123456789")
# user_id, name, email, connection (None: from the id), [(organization name, or "holdings:N"
# for the Nth "Holdings" organization; role names)]. An existing user gains memberships.
SEARCH_PEOPLE: list[tuple[str, str, str | None, str | None, list[tuple[str, list[str]]]]] = [
    (
        JANE,
        "Jane Smith",
        "jane@acme.example",
        None,
        [
            ("acme", ["Support Admin", "Billing Viewer"]),
            ("kabushiki", ["Read Only"]),
            ("kyoto-shoji", ["Org Owner"]),
            ("holdings:0", ["Security Manager", "Audit Agent"]),
            ("arabic-rtl", ["Developer"]),
        ],
    ),
    (
        SHARED_USERS[0],
        "Sam Lee",
        SHARED_EMAIL,
        None,
        [("kabushiki", ["Developer"])],
    ),
    (
        SHARED_USERS[1],
        "Sam Lee (Google)",
        SHARED_EMAIL,
        None,
        [("holdings:1", ["Read Only"])],
    ),
    (
        "samlp|acme-saml|jane/doe@acme.example",
        "Jane Doe",
        "jane.doe@acme.example",
        None,
        [("kabushiki", ["Support Agent"])],
    ),
]
