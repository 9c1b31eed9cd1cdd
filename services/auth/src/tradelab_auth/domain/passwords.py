"""Password policy and e-mail normalisation.

A password is 10 to 128 characters long (counted as Unicode code points) and must not be the
account's e-mail address or its local part, compared case-insensitively. The upper bound keeps
argon2 work per request bounded; there are deliberately no composition rules (NIST SP 800-63B).
"""

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128


def normalise_email(email: str) -> str:
    """Return the canonical form of an e-mail address: stripped and lower-cased.

    Parameters
    ----------
    email
        The address as the user typed it.

    Returns
    -------
    str
        The form stored and looked up, so ``Ann@X.org`` and ``ann@x.org`` are one account.
    """
    return email.strip().lower()


def password_problem(password: str, email: str) -> str | None:
    """Say what is wrong with ``password`` for the account ``email``, if anything.

    Parameters
    ----------
    password
        The proposed password, in clear.
    email
        The account's e-mail address (normalised or not).

    Returns
    -------
    str or None
        A message for the password field, or None when the password is acceptable.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be at least {MIN_PASSWORD_LENGTH} characters long."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Password must be at most {MAX_PASSWORD_LENGTH} characters long."
    address = normalise_email(email).casefold()
    local_part = address.split("@", 1)[0]
    if password.strip().casefold() in {address, local_part}:
        return "Password must not be your e-mail address or part of it."
    return None
