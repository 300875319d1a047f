"""SMS through a carrier gateway over SMPP 3.4 (SMS_PROVIDER=smpp): a 106 service number of a government SMS
platform or an aggregator, free text both ways.

- `pdu`: the PDU codec (bind, submit_sm, deliver_sm, enquire_link, unbind, generic_nack, TLVs, UCS-2, UDH);
- `client`: one bound connection kept up (enquire_link, reconnect with back-off, a window of outstanding submits),
  mobile-originated messages and delivery receipts handed to callbacks;
- `provider`: `SmppProvider`, the `SmsProvider` that submits a message's text (segments of one long SMS).
"""
