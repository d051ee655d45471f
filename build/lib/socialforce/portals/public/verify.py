"""The public verification page of hours certificates: for one number, valid or revoked, the masked name, the
hours and the period; nothing else, and the same answer shape for every number."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for

from socialforce.platform.services import certificates


def verify_form():
    """Type a certificate number (?number= goes to its page)."""
    number = certificates.normalise_number(request.args.get("number"))
    if number and len(number) <= certificates.MAX_NUMBER_LENGTH:
        return redirect(url_for("public.verify", number=number), 303)
    return render_template("public/verify.html", result=None, number=None, asked=bool(number)), 400 if number else 200


def verify(number: str):
    """What the certificate with this number certifies; an unknown number gets 404 and says so."""
    result = certificates.verify(number)
    shown = certificates.normalise_number(number)[:certificates.MAX_NUMBER_LENGTH]
    response = render_template("public/verify.html", result=result, number=shown, asked=True)
    return response, 200 if result is not None else 404
