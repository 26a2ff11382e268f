# A SOAP client of Alexa Site Thumbnail generated at run time from kiln's
# WSDL by zeep (Debian's python3-zeep), as wsdl2py-era clients generated
# theirs from Amazon's. It prints what it got as one JSON document.
#
# Run: /usr/bin/python3 zeep_client.py WSDL-URL KEY-ID SECRET URL...

import base64
import datetime
import hashlib
import hmac
import json
import sys

import zeep
from zeep.exceptions import Fault

wsdl, key_id, secret, urls = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
client = zeep.Client(wsdl)


def credentials(secret):
    ts = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.000Z')
    mac = hmac.new(secret.encode(), ('Thumbnail' + ts).encode(), hashlib.sha1)
    return {'Signature': base64.b64encode(mac.digest()).decode(), 'Timestamp': ts, 'AWSAccessKeyId': key_id}


def answers(resp):
    items = resp if isinstance(resp, list) else resp.Response
    return [{
        'request_id': r.OperationRequest.RequestId,
        'exists': r.ThumbnailResult.Thumbnail.Exists,
        'image': r.ThumbnailResult.Thumbnail._value_1,
        'request_url': r.ThumbnailResult.RequestUrl,
        'status': r.ResponseStatus.StatusCode,
    } for r in items]


def call(**kw):
    try:
        return {'answers': answers(client.service.Thumbnail(**kw))}
    except Fault as f:
        return {'fault': {'code': f.code, 'message': f.message}}


out = {'address': client.service._binding_options['address']}
# A batch: the credentials in the first Request only, a shared size.
requests = [dict(credentials(secret), Url=urls[0])] + [{'Url': u} for u in urls[1:]]
out['batch'] = call(Shared={'Size': 'Small'}, Request=requests)
# A Request without its Url: sent (no element is required), refused by kiln.
out['no_url'] = call(Request=[credentials(secret)])
# The wrong secret.
out['bad_signature'] = call(Request=[dict(credentials('not the secret'), Url=urls[0])])
print(json.dumps(out))
