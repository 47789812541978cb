from __future__ import annotations

from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = "Organizations and members"

    def ready(self) -> None:
        from adminsite.audit import restorers
        from adminsite.audit.models import Action
        from orgs.invitations import InvitationRestorer
        from orgs.membership import MemberRestorer

        restorers.register(Action.REMOVE_MEMBER, MemberRestorer())

        restorers.register(Action.REVOKE_INVITATION, InvitationRestorer())
        # A resend that revoked the old invitation but could not create the new one.
        restorers.register(Action.RESEND_INVITATION, InvitationRestorer())
