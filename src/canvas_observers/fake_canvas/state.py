"""The fake Canvas's in-memory district: users, logins, enrollments, observer links, codes.

Everything here is synchronous on purpose: a route handler parses its request first (the only
awaits), then checks and mutates the state without yielding, so concurrent requests on one
event loop cannot interleave between a uniqueness check and the write that follows it.

The rules mirror Canvas (see docs/canvas-behaviour.md): a login id (pseudonym) is unique on its
normalised form (records.login_key) among live (active and suspended) logins of the same
authentication provider, and an unbound login also clashes with one bound to a Canvas, CAS,
SAML or LDAP provider (the database trigger of db/migrate/20250417195912_normalize_pseudonyms.rb);
SIS ids exactly, including deleted logins (that is why Canvas has `enable_sis_reactivation`);
pairing codes are 6 case-sensitive characters, valid
7 days, single use (app/models/observer_pairing_code.rb); links are soft-deleted and restored
(UserObservationLink.create_or_restore). The indexes keep 100,000 users cheap.
"""

from __future__ import annotations

import bisect
import secrets
import string
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from canvas_observers.fake_canvas.config import DEFAULT_ADMIN_TOKEN
from canvas_observers.fake_canvas.records import (
    AccountReport,
    Channel,
    Course,
    Enrollment,
    Login,
    ObservationLink,
    PairingCodeRecord,
    Provider,
    SentEmail,
    StateError,
    StoredFile,
    User,
    is_email,
    iso,
    login_key,
    sortable_from,
    utc_now,
)
from canvas_observers.fake_canvas.roles import ACCOUNT_ADMIN

__all__ = [
    "ACCOUNT_NAME",
    "ROOT_ACCOUNT_ID",
    "AccountReport",
    "Channel",
    "Course",
    "Enrollment",
    "FakeState",
    "Login",
    "ObservationLink",
    "PairingCodeRecord",
    "Provider",
    "SentEmail",
    "StateError",
    "StoredFile",
    "User",
    "is_email",
    "iso",
    "login_key",
    "sortable_from",
]

ROOT_ACCOUNT_ID = 1
ACCOUNT_NAME = "Fake District"
CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LIFETIME = timedelta(days=7)  # ObserverPairingCode: expires_at = 7.days.from_now
STUDENT_TYPES = frozenset({"StudentEnrollment", "StudentViewEnrollment"})
ENROLLMENT_TYPES = frozenset(
    {
        "StudentEnrollment",
        "TeacherEnrollment",
        "TaEnrollment",
        "DesignerEnrollment",
        "ObserverEnrollment",
        "StudentViewEnrollment",
    }
)
# User#has_student_enrollment?: any student enrollment not rejected/inactive/deleted counts.
DEAD_ENROLLMENT_STATES = frozenset({"rejected", "inactive", "deleted"})
# Observer enrollments follow the student's enrollments that are active or pending.
FOLLOWED_STATES = frozenset({"active", "invited", "creation_pending"})
# An observer enrollment in one of these states is brought back when its link is made or
# restored; one in another state is left alone (Enrollment#create_linked_enrollment_for).
LOST_STATES = frozenset({"deleted", "inactive"})
# app/controllers/users_controller.rb create_user: an active login of a user in one of these
# states is completed by a create with that login instead of being "taken".
UNFINISHED_USER_STATES = frozenset({"creation_pending", "pending_approval"})
# The provider types whose logins the normalisation trigger compares with unbound logins: an
# unbound login and one bound to a provider of these types cannot share a login id.
UNBOUND_FAMILY = frozenset({"canvas", "cas", "saml", "ldap"})
SSO_TYPE = "saml"  # the provider the fake's SSO knob adds


SEARCH_FIELDS = frozenset({"login", "sis", "email"})


def _searchable(user: User, fields: frozenset[str]) -> list[str]:
    """The values a search may match for a caller allowed these identifier kinds."""
    values = [user.name]
    for login in user.logins:
        if "login" in fields and login.workflow_state == "active":
            values.append(login.unique_id)
        if "sis" in fields and login.live:
            values += [login.sis_user_id or "", login.integration_id or ""]
    if "email" in fields:
        values += user.emails
    return [v for v in values if v]


class FakeState:
    """The district. Builders are the public API for scenarios and tests."""

    def __init__(
        self,
        admin_token: str = DEFAULT_ADMIN_TOKEN,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.clock = clock
        self._base_clock = clock
        self.users: dict[int, User] = {}
        self.logins_by_key: dict[str, list[Login]] = {}  # login_key -> live logins
        self.logins_by_sis_id: dict[str, Login] = {}  # exact, any login state (uniqueness)
        self.providers: dict[int, Provider] = {}
        self.tokens: dict[str, int] = {}
        self.courses: dict[int, Course] = {}
        self.enrollments: dict[int, Enrollment] = {}
        self.enrollments_by_user: dict[int, list[int]] = {}
        self.links: dict[tuple[int, int], ObservationLink] = {}
        self.observees_of: dict[int, set[int]] = {}
        self.observers_of: dict[int, set[int]] = {}
        self.pairing_codes: list[PairingCodeRecord] = []
        self.codes_by_value: dict[str, PairingCodeRecord] = {}
        self.emails_sent: list[SentEmail] = []
        self.reports: dict[int, AccountReport] = {}
        self.files: dict[int, StoredFile] = {}
        self.file_secret = secrets.token_bytes(32)  # signs the files store's URLs
        self._next_id: dict[str, int] = {}
        self._sorted: list[User] = []  # active users in sort order, kept by bisection
        self._sort_keys: list[tuple[str, int]] = []  # their sort keys, in step
        self.canvas_provider_id = self.add_provider("canvas")  # every account starts with it
        self.admin_id = self.add_user("Fake Admin", login_id="admin", sortable_name="Admin, Fake")
        self.make_admin(self.admin_id)
        self.users[self.admin_id].workflow_state = "registered"
        self.set_admin_token(admin_token)

    # -- ids and indexes ---------------------------------------------------------------
    def _new_id(self, kind: str) -> int:
        value = self._next_id.get(kind, 0) + 1
        self._next_id[kind] = value
        return value

    def new_id(self, kind: str) -> int:
        """The next id of a kind of record ("report", "attachment", ...), from 1."""
        return self._new_id(kind)

    def _reindex(self, user: User) -> None:
        """The search haystack: logins of active logins, SIS ids of live ones (UserSearch)."""
        fields = [user.name]
        for login in user.logins:
            if login.workflow_state == "active":
                fields.append(login.unique_id)
            if login.live:
                fields += [login.sis_user_id or "", login.integration_id or ""]
        fields += user.emails
        user.haystack = "\0".join(f.lower() for f in fields if f)

    def sorted_users(self) -> list[User]:
        """Active users by sortable name, then id (do not mutate the list)."""
        return self._sorted

    # -- builders ----------------------------------------------------------------------
    def add_user(
        self,
        name: str,
        *,
        login_id: str | None = None,
        sis_user_id: str | None = None,
        email: str | None = None,
        sortable_name: str | None = None,
        workflow_state: str = "pre_registered",
        provider_id: int | None = None,
    ) -> int:
        """Add a user (with a login when login_id is given, bound to ``provider_id``);
        StateError on duplicates.

        `workflow_state` "creation_pending" or "pending_approval" makes a user who never
        finished registering (a create with their login completes them); use delete_user for
        deleted users."""
        if workflow_state == "deleted":
            raise ValueError("add the user, then delete_user(user_id)")
        if login_id is not None:
            self.check_login(login_id, sis_user_id, provider_id=provider_id)
        user_id = self._new_id("user")
        user = User(
            id=user_id,
            name=name,
            sortable_name=sortable_name or sortable_from(name),
            short_name=name,
            created_at=self.clock(),
            workflow_state=workflow_state,
        )
        self.users[user_id] = user
        key = user.sort_key()
        at = bisect.bisect(self._sort_keys, key)
        self._sort_keys.insert(at, key)
        self._sorted.insert(at, user)
        if login_id is not None:
            self._add_login(user, login_id, sis_user_id, provider_id)
        if email is not None:
            self.add_channel(user, email)
        self._reindex(user)
        return user_id

    def _index_login(self, login: Login) -> None:
        self.logins_by_key.setdefault(login_key(login.unique_id), []).append(login)

    def _unindex_login(self, login: Login) -> None:
        key = login_key(login.unique_id)
        held = self.logins_by_key.get(key, [])
        if login in held:
            held.remove(login)
        if not held:
            self.logins_by_key.pop(key, None)

    def live_logins(self, unique_id: str) -> list[Login]:
        """The live logins (any provider) whose login id normalises like this one."""
        return list(self.logins_by_key.get(login_key(unique_id), ()))

    def check_login(
        self,
        unique_id: str,
        sis_user_id: str | None,
        *,
        provider_id: int | None = None,
        reusing: Login | None = None,
    ) -> None:
        """StateError when the login fails Canvas's model validation: the login id is taken
        by a live (active or suspended) login of the same provider, compared normalised
        (Pseudonym#validate_unique_id), or the SIS id is (any login, deleted ones too: Pseudonym
        #verify_unique_sis_user_id); `reusing` is the login being saved again, not a clash.
        A clash across providers is the database's (family_clash), found only at the save."""
        for taken in self.live_logins(unique_id):
            if taken is not reusing and taken.authentication_provider_id == provider_id:
                raise StateError(
                    "unique_id",
                    "taken",
                    "ID already in use for this account and authentication provider",
                )
        holder = None if sis_user_id is None else self.logins_by_sis_id.get(sis_user_id)
        if holder is not None and holder is not reusing:
            raise StateError("sis_user_id", "taken", f'SIS ID "{sis_user_id}" is already in use')

    def family_clash(
        self, unique_id: str, provider_id: int | None, *, reusing: Login | None = None
    ) -> Login | None:
        """The live login the normalisation trigger refuses this one for: an unbound login
        and one bound to a Canvas, CAS, SAML or LDAP provider with the same normalised id
        (pseudonyms_before_insert_or_update_enforce_unique_across_auth_providers)."""
        for other in self.live_logins(unique_id):
            if other is reusing or other.authentication_provider_id == provider_id:
                continue
            if provider_id is None and self._in_unbound_family(other.authentication_provider_id):
                return other
            if other.authentication_provider_id is None and self._in_unbound_family(provider_id):
                return other
        return None

    def _in_unbound_family(self, provider_id: int | None) -> bool:
        provider = None if provider_id is None else self.providers.get(provider_id)
        return provider is not None and provider.auth_type in UNBOUND_FAMILY

    def reusable_login(self, unique_id: str) -> Login | None:
        """The active login a create with this login id completes instead of refusing
        (users_controller.rb create_user: its user is creation_pending/pending_approval)."""
        for login in self.live_logins(unique_id):
            state = self.users[login.user_id].workflow_state
            if login.workflow_state == "active" and state in UNFINISHED_USER_STATES:
                return login
        return None

    def _add_login(
        self,
        user: User,
        unique_id: str,
        sis_user_id: str | None,
        provider_id: int | None = None,
    ) -> Login:
        login = Login(self._new_id("login"), user.id, unique_id, sis_user_id)
        login.authentication_provider_id = provider_id
        user.logins.append(login)
        self._index_login(login)
        if sis_user_id is not None:
            self.logins_by_sis_id[sis_user_id] = login
        return login

    def change_unique_id(self, login: Login, unique_id: str) -> None:
        """A live login's new login id (the caller checked it is free; it reindexes the user)."""
        self._unindex_login(login)
        login.unique_id = unique_id
        self._index_login(login)

    def set_sis_id(self, login: Login, sis_user_id: str | None) -> None:
        """Give a login another SIS id, or none; the caller checked it is free (check_login)
        and reindexes the user. The old SIS id is free again once no login holds it."""
        if login.sis_user_id is not None and self.logins_by_sis_id.get(login.sis_user_id) is login:
            del self.logins_by_sis_id[login.sis_user_id]
        login.sis_user_id = sis_user_id
        if sis_user_id is not None:
            self.logins_by_sis_id[sis_user_id] = login

    def add_channel(self, user: User, address: str, *, active: bool = False) -> Channel:
        """Give a user another email channel (the caller reindexes the user)."""
        channel = Channel(self._new_id("channel"), address, "active" if active else "unconfirmed")
        user.channels.append(channel)
        return channel

    def add_login(
        self,
        user_id: int,
        unique_id: str,
        *,
        sis_user_id: str | None = None,
        integration_id: str | None = None,
        provider_id: int | None = None,
    ) -> int:
        """Give an active user another login (pseudonym) in the root account, bound to
        ``provider_id``; StateError when the login id or SIS id is taken (check_login, and
        the provider-family clash of family_clash). Returns the login's id."""
        user = self.users[user_id]
        if not user.active:
            raise ValueError("a deleted user gets no new login")
        self.check_login(unique_id, sis_user_id, provider_id=provider_id)
        if self.family_clash(unique_id, provider_id) is not None:
            raise StateError("unique_id", "taken", "ID already in use for another provider")
        login = self._add_login(user, unique_id, sis_user_id, provider_id)
        login.integration_id = integration_id
        self._reindex(user)
        return login.id

    def find_login(self, login_id: int) -> tuple[User, Login]:
        """The user and login with this id (any state); KeyError when there is none."""
        for user in self.users.values():
            for login in user.logins:
                if login.id == login_id:
                    return user, login
        raise KeyError(login_id)

    def delete_login(self, login_id: int) -> None:
        """Soft-delete one login (Pseudonym#destroy); its SIS id stays taken."""
        user, login = self.find_login(login_id)
        if login.live:
            self._unindex_login(login)
        login.workflow_state = "deleted"
        self._reindex(user)

    def suspend_login(self, login_id: int) -> None:
        """Suspend a live login (an SIS import's ``status=suspended``): it cannot sign in, but
        its login id stays taken, its SIS id still finds it, and its user's links stay."""
        user, login = self.find_login(login_id)
        if not login.live:
            raise ValueError("a deleted login cannot be suspended")
        login.workflow_state = "suspended"
        self._reindex(user)

    # -- authentication providers and passwords ----------------------------------------
    def add_provider(self, auth_type: str) -> int:
        """Add an authentication provider to the root account (last in position)."""
        provider_id = self._new_id("provider")
        position = 1 + sum(p.workflow_state == "active" for p in self.providers.values())
        self.providers[provider_id] = Provider(provider_id, auth_type, position)
        return provider_id

    def delete_provider(self, provider_id: int) -> None:
        """AuthenticationProvider#destroy: soft-deleted, and so are its logins."""
        self.providers[provider_id].workflow_state = "deleted"
        for user in self.users.values():
            for login in user.logins:
                if login.authentication_provider_id == provider_id and login.live:
                    self.delete_login(login.id)

    def active_providers(self) -> list[Provider]:
        return sorted(
            (p for p in self.providers.values() if p.workflow_state == "active"),
            key=lambda p: p.position,
        )

    def set_sso(self, on: bool) -> None:
        """Configure single sign-on (a SAML provider next to Canvas's own) or remove it."""
        sso = [p for p in self.active_providers() if p.auth_type == SSO_TYPE]
        if on and not sso:
            self.add_provider(SSO_TYPE)
        elif not on:
            for provider in sso:
                self.delete_provider(provider.id)

    def find_provider(self, ref: str) -> Provider | None:
        """`authentication_providers.active.find(ref)`: an id, or a provider type such as
        ``canvas`` for the first active provider of that type (AuthenticationProvider
        FindWithType); None where Canvas raises RecordNotFound."""
        ref = ref.strip()
        for provider in self.active_providers():
            if str(provider.id) == ref or provider.auth_type == ref:
                return provider
        return None

    def non_canvas_auth_configured(self) -> bool:
        """Account#non_canvas_auth_configured?: an active provider that is not Canvas's."""
        return any(p.auth_type != "canvas" for p in self.active_providers())

    def managed_password(self, login: Login) -> bool:
        """Pseudonym#managed_password?: bound to a provider, managed unless it is Canvas's;
        unbound, managed when it has an SIS id and the account has any other sign-in."""
        provider_id = login.authentication_provider_id
        if provider_id is not None:
            return self.providers[provider_id].auth_type != "canvas"
        return login.sis_user_id is not None and self.non_canvas_auth_configured()

    def reset_password(self, login_id: int) -> None:
        """The login's owner sets a new password through Canvas's reset link; StateError for
        a managed login (pseudonyms_controller.rb confirm_change_password refuses it)."""
        _, login = self.find_login(login_id)
        if not login.live or self.managed_password(login):
            raise StateError(
                "password",
                "managed",
                "Cannot change the password for that login, or login does not exist",
            )

    def create_user(
        self,
        name: str | None,
        *,
        unique_id: str,
        sis_user_id: str | None = None,
        sortable_name: str | None = None,
        short_name: str | None = None,
        email: str | None = None,
        skip_registration: bool = False,
        password: bool = False,
        provider_id: int | None = None,
    ) -> User:
        """The POST /accounts/:id/users write, after check_login: a new user, login and channel,
        or the unfinished user owning that login completed (see _complete_user)."""
        reused = self.reusable_login(unique_id)
        if reused is not None:
            reused.authentication_provider_id = provider_id
            return self._complete_user(
                reused,
                name,
                unique_id=unique_id,
                sis_user_id=sis_user_id,
                sortable_name=sortable_name,
                short_name=short_name,
                email=email,
                skip_registration=skip_registration,
            )
        user = self.users[
            self.add_user(
                name or unique_id,
                login_id=unique_id,
                sis_user_id=sis_user_id,
                email=email,
                sortable_name=sortable_name,
                provider_id=provider_id,
            )
        ]
        user.short_name = short_name or user.name
        # A password on a new login registers the user, as skip_registration does.
        registered = skip_registration or password
        user.workflow_state = "registered" if registered else "pre_registered"
        return user

    def _complete_user(
        self,
        login: Login,
        name: str | None,
        *,
        unique_id: str,
        sis_user_id: str | None,
        sortable_name: str | None,
        short_name: str | None,
        email: str | None,
        skip_registration: bool,
    ) -> User:
        """users_controller.rb create_user with an unfinished user's login: that user and login
        are saved again. The given user[] fields overwrite theirs (a derived sortable name
        follows a new name: User#infer_defaults); the login takes the given unique_id and SIS
        id (none given: none kept); the state becomes registered with skip_registration, else
        pre_registered (a password does not register an existing login)."""
        user = self.users[login.user_id]
        if name is not None:
            derived = user.sortable_name == sortable_from(user.name)
            user.name = name
            if sortable_name is None and derived:
                sortable_name = sortable_from(name)
        if sortable_name is not None and sortable_name != user.sortable_name:
            at = bisect.bisect_left(self._sort_keys, user.sort_key())
            del self._sort_keys[at], self._sorted[at]
            user.sortable_name = sortable_name
            key = user.sort_key()
            at = bisect.bisect(self._sort_keys, key)
            self._sort_keys.insert(at, key)
            self._sorted.insert(at, user)
        if short_name is not None:
            user.short_name = short_name
        self.change_unique_id(login, unique_id)
        self.set_sis_id(login, sis_user_id)
        login.integration_id = None
        if email is not None and email.lower() not in (e.lower() for e in user.emails):
            self.add_channel(user, email)
        user.workflow_state = "registered" if skip_registration else "pre_registered"
        self._reindex(user)
        return user

    def delete_user(self, user_id: int) -> None:
        """Delete a user as Canvas does: logins, enrollments and links go with it."""
        user = self.users[user_id]
        if not user.active:
            return
        user.workflow_state = "deleted"
        at = bisect.bisect_left(self._sort_keys, user.sort_key())
        del self._sort_keys[at], self._sorted[at]
        for login in user.logins:
            if login.live:
                self._unindex_login(login)
            login.workflow_state = "deleted"
        for enrollment_id in self.enrollments_by_user.get(user_id, []):
            self.enrollments[enrollment_id].state = "deleted"
        for other in list(self.observees_of.get(user_id, ())):
            self.unlink(user_id, other)
        for other in list(self.observers_of.get(user_id, ())):
            self.unlink(other, user_id)
        self._reindex(user)

    def add_course(self, name: str, *, sis_course_id: str | None = None) -> int:
        course_id = self._new_id("course")
        self.courses[course_id] = Course(course_id, name, name, sis_course_id, "available")
        return course_id

    def delete_course(self, course_id: int) -> None:
        """Course#destroy: the course is deleted and so is every enrollment in it, observers'
        too (app/models/course.rb update_enrolled_users, run before the save)."""
        self.courses[course_id].workflow_state = "deleted"
        for enrollment in self.enrollments.values():
            if enrollment.course_id == course_id:
                enrollment.state = "deleted"

    def conclude_course(self, course_id: int) -> None:
        """Course#complete: the course and its active or invited enrollments are completed
        (app/models/course.rb update_enrolled_users); a deleted course stays deleted."""
        course = self.courses[course_id]
        if course.workflow_state == "deleted":
            return
        course.workflow_state = "completed"
        for enrollment in self.enrollments.values():
            if enrollment.course_id == course_id and enrollment.state in ("active", "invited"):
                enrollment.state = "completed"

    def enroll(
        self,
        user_id: int,
        course_id: int,
        *,
        type: str = "StudentEnrollment",
        state: str = "active",
        associated_user_id: int | None = None,
    ) -> int:
        """Enroll a user; linked observers follow a live student enrollment into the course."""
        if user_id not in self.users or course_id not in self.courses:
            raise KeyError("unknown user or course")
        enrollment_id = self._new_id("enrollment")
        self.enrollments[enrollment_id] = Enrollment(
            enrollment_id, user_id, course_id, type, state, self.clock(), associated_user_id
        )
        self.enrollments_by_user.setdefault(user_id, []).append(enrollment_id)
        if type in STUDENT_TYPES and state in FOLLOWED_STATES:
            for observer_id in self.observers_of.get(user_id, ()):
                self._follow(observer_id, user_id, self.enrollments[enrollment_id])
        return enrollment_id

    def set_enrollment_state(self, enrollment_id: int, state: str) -> Enrollment:
        enrollment = self.enrollments[enrollment_id]
        enrollment.state = state
        return enrollment

    def user_enrollments(self, user_id: int) -> list[Enrollment]:
        return [self.enrollments[i] for i in self.enrollments_by_user.get(user_id, [])]

    def has_student_enrollment(self, user_id: int) -> bool:
        """User#has_student_enrollment? (checked before any permission for pairing codes)."""
        return any(
            e.type in STUDENT_TYPES and e.state not in DEAD_ENROLLMENT_STATES
            for e in self.user_enrollments(user_id)
        )

    def _follow(self, observer_id: int, student_id: int, student: Enrollment) -> None:
        """Enrollment#create_linked_enrollment_for: the observer's enrollment for this student
        in the course is left alone when it is live, else brought back (deleted or inactive
        ones too), else made; it takes the student enrollment's state, "invited" read as
        "active" (Enrollment#update_from)."""
        state = "active" if student.state == "invited" else student.state
        for e in self.user_enrollments(observer_id):
            if e.course_id == student.course_id and e.associated_user_id == student_id:
                if e.state not in LOST_STATES:
                    return
                e.state = state
                return
        self.enroll(
            observer_id,
            student.course_id,
            type="ObserverEnrollment",
            state=state,
            associated_user_id=student_id,
        )

    def link(self, observer_id: int, student_id: int, *, created_by_sis: bool = False) -> None:
        """Create or restore the observer link (idempotent); self-observation is refused.
        ``created_by_sis`` stages a link an SIS import made (the report says so)."""
        if observer_id == student_id:
            raise StateError("observer_id", "invalid", "Cannot observe yourself")
        link = self.links.get((observer_id, student_id))
        if link is None:
            self.links[(observer_id, student_id)] = ObservationLink(
                observer_id, student_id, created_by_sis=created_by_sis
            )
        elif link.workflow_state == "active":
            return
        else:
            link.workflow_state = "active"
            link.created_by_sis = created_by_sis
        self.observees_of.setdefault(observer_id, set()).add(student_id)
        self.observers_of.setdefault(student_id, set()).add(observer_id)
        # UserObservationLink#create_linked_enrollments, run only when a link is made or
        # restored: a live link is left as it is, and so are its observer's enrollments.
        for e in self.user_enrollments(student_id):
            if e.type in STUDENT_TYPES and e.state in FOLLOWED_STATES:
                self._follow(observer_id, student_id, e)

    def unlink(self, observer_id: int, student_id: int) -> bool:
        """Soft-delete a live link (and its observer enrollments); False when there is none."""
        link = self.links.get((observer_id, student_id))
        if link is None or link.workflow_state != "active":
            return False
        link.workflow_state = "deleted"
        self.observees_of[observer_id].discard(student_id)
        self.observers_of[student_id].discard(observer_id)
        for e in self.user_enrollments(observer_id):
            if e.type == "ObserverEnrollment" and e.associated_user_id == student_id:
                e.state = "deleted"
        return True

    def is_linked(self, observer_id: int, student_id: int) -> bool:
        return student_id in self.observees_of.get(observer_id, ())

    def issue_token(self, user_id: int) -> str:
        if user_id not in self.users:
            raise KeyError(user_id)
        token = f"{user_id}~{secrets.token_urlsafe(24)}"
        self.tokens[token] = user_id
        return token

    def set_admin_token(self, token: str) -> None:
        self.tokens[token] = self.admin_id

    def make_admin(self, user_id: int, permissions: frozenset[str] = ACCOUNT_ADMIN) -> None:
        """Give a user an account admin role with these permissions (all by default)."""
        user = self.users[user_id]
        user.is_admin = True
        user.permissions = permissions

    def set_clock_offset(self, offset: timedelta) -> None:
        """Run the district's clock ``offset`` away from the real one (the side door's time
        knob): codes issued with the clock a week back are expired once it is put right,
        since no test can wait the seven days a pairing code lives."""
        base = self._base_clock
        self.clock = base if not offset else (lambda: base() + offset)

    # -- pairing codes -----------------------------------------------------------------
    def _code_is_active(self, record: PairingCodeRecord) -> bool:
        return record.workflow_state == "active" and record.expires_at > self.clock()

    def new_pairing_code(self, user_id: int) -> PairingCodeRecord:
        """A fresh code, regenerated until no active code has the same value."""
        while True:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
            existing = self.codes_by_value.get(code)
            if existing is None or not self._code_is_active(existing):
                break
        record = PairingCodeRecord(user_id, code, self.clock() + CODE_LIFETIME)
        self.pairing_codes.append(record)
        self.codes_by_value[code] = record
        return record

    def active_pairing_code(self, code: str) -> PairingCodeRecord | None:
        """The active code with exactly this value (case-sensitive), without using it up."""
        record = self.codes_by_value.get(code)
        if record is None or not self._code_is_active(record):
            return None
        return record

    def redeem_pairing_code(self, code: str) -> PairingCodeRecord | None:
        """Use up an active code (exact, case-sensitive match); None when there is none."""
        record = self.codes_by_value.get(code)
        if record is None or not self._code_is_active(record):
            return None
        record.workflow_state = "deleted"
        return record

    # -- lookups -----------------------------------------------------------------------
    def user_by_login(self, unique_id: str) -> User | None:
        """`sis_login_id:` (lib/api.rb): LOWER(unique_id) = LOWER(value) among the live logins
        of the root account, whatever their provider; suspended ones match too."""
        wanted = unique_id.lower()
        for login in sorted(self.live_logins(unique_id), key=lambda p: p.id):
            if login.unique_id.lower() == wanted:
                return self.users[login.user_id]
        return None

    def user_by_sis_id(self, sis_user_id: str) -> User | None:
        """lib/api.rb SIS_MAPPINGS["users"] joins User#pseudonym, which leaves deleted logins
        out: a deleted login's SIS id finds nobody (though it stays taken for new logins)."""
        login = self.logins_by_sis_id.get(sis_user_id)
        if login is None or login.workflow_state == "deleted":
            return None
        return self.users[login.user_id]

    def user_by_integration_id(self, integration_id: str) -> User | None:
        for held in self.logins_by_key.values():
            for login in held:
                if login.integration_id == integration_id:
                    return self.users[login.user_id]
        return None

    def search(self, term: str, fields: frozenset[str] = SEARCH_FIELDS) -> list[User]:
        """UserSearch: case-insensitive substring over the name and, as the caller's rights
        allow (roles.search_fields), login / SIS and integration id / email; union exact id
        for an all-digit term; sorted by sortable name (linear, one `in` each)."""
        needle = term.lower()
        exact = int(term) if term.isdigit() and len(term) <= 18 else None
        if fields == SEARCH_FIELDS:
            return [u for u in self.sorted_users() if needle in u.haystack or u.id == exact]
        return [
            u
            for u in self.sorted_users()
            if u.id == exact or any(needle in f.lower() for f in _searchable(u, fields))
        ]

    def sorted_ids(self, ids: set[int]) -> list[User]:
        users = [self.users[i] for i in ids if self.users[i].active]
        return sorted(users, key=User.sort_key)

    def record_email(self, user_id: int, address: str, kind: str) -> None:
        self.emails_sent.append(SentEmail(user_id, address, kind))

    # -- side door ---------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything, as JSON-ready data, for GET /__fake__/state."""
        return {
            "account": {"id": ROOT_ACCOUNT_ID, "name": ACCOUNT_NAME},
            "authentication_providers": [
                {"id": p.id, "auth_type": p.auth_type, "position": p.position}
                for p in self.active_providers()
            ],
            "users": [
                {
                    "id": u.id,
                    "name": u.name,
                    "sortable_name": u.sortable_name,
                    "short_name": u.short_name,
                    "workflow_state": u.workflow_state,
                    "created_at": iso(u.created_at),
                    "is_admin": u.is_admin,
                    "permissions": sorted(u.permissions),
                    "logins": [
                        {
                            "id": p.id,
                            "unique_id": p.unique_id,
                            "sis_user_id": p.sis_user_id,
                            "integration_id": p.integration_id,
                            "workflow_state": p.workflow_state,
                            "authentication_provider_id": p.authentication_provider_id,
                            "managed_password": self.managed_password(p),
                        }
                        for p in u.logins
                    ],
                    "emails": list(u.emails),
                }
                for u in self.users.values()
            ],
            "courses": [
                {"id": c.id, "name": c.name, "workflow_state": c.workflow_state}
                for c in self.courses.values()
            ],
            "enrollments": [
                {
                    "id": e.id,
                    "user_id": e.user_id,
                    "course_id": e.course_id,
                    "type": e.type,
                    "enrollment_state": e.state,
                    "associated_user_id": e.associated_user_id,
                }
                for e in self.enrollments.values()
            ],
            "observer_links": [
                {
                    "observer_id": k.observer_id,
                    "student_id": k.student_id,
                    "workflow_state": k.workflow_state,
                }
                for k in self.links.values()
            ],
            "pairing_codes": [
                {
                    "user_id": c.user_id,
                    "code": c.code,
                    "expires_at": iso(c.expires_at),
                    "workflow_state": c.workflow_state,
                }
                for c in self.pairing_codes
            ],
            "registration_emails": [
                {"user_id": m.user_id, "address": m.address, "kind": m.kind}
                for m in self.emails_sent
            ],
        }
