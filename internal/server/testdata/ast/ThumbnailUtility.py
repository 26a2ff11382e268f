# ThumbnailUtility.py: the Python client of Alexa Site Thumbnail published
# by kelvinism in 2007 ("Alexa Site Thumbnail with Python",
# kelvinn/kelvinn.github.io content/posts/alexa-site-thumbnail-with-python),
# ported to Python 3 with as few changes as that needs: hashlib.sha1 for
# the sha module, bytes for HMAC, urllib.request for urllib.urlopen,
# base64.encodebytes for encodestring. The endpoint comes from AST_ENDPOINT
# instead of 'http://ast.amazonaws.com/?': changing the host name is all an
# old client should have to do. It signs Action + Timestamp, POSTs the form
# and reads the answer with minidom's getElementsByTagName('aws:Thumbnail'),
# prefix included.
#
# Run: AST_ENDPOINT=http://host:port/? AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=…
#      python3 ThumbnailUtility.py Size single-url list-url...
# It prints one line per thumbnail URL: the single one, then the list's.

import base64
import datetime
import hashlib
import hmac
import os
import sys
import urllib.parse
import urllib.request
import xml.dom.minidom

AWS_ACCESS_KEY_ID = os.environ['AWS_ACCESS_KEY_ID']
AWS_SECRET_ACCESS_KEY = os.environ['AWS_SECRET_ACCESS_KEY']
AST_ENDPOINT = os.environ['AST_ENDPOINT']

# This one is for an individual thumbnail...
def create_thumbnail(site_url, img_size):
    def generate_timestamp(dtime):
        return dtime.strftime("%Y-%m-%dT%H:%M:%SZ")
    def generate_signature(operation, timestamp, secret_access_key):
        my_sha_hmac = hmac.new(secret_access_key.encode(), (operation + timestamp).encode(), hashlib.sha1)
        my_b64_hmac_digest = base64.encodebytes(my_sha_hmac.digest()).strip()
        return my_b64_hmac_digest
    timestamp_datetime = datetime.datetime.utcnow()
    timestamp_list = list(timestamp_datetime.timetuple())
    timestamp_list[6] = 0
    timestamp_tuple = tuple(timestamp_list)
    timestamp = generate_timestamp(timestamp_datetime)
    signature = generate_signature('Thumbnail', timestamp, AWS_SECRET_ACCESS_KEY)
    parameters = {
        'AWSAccessKeyId': AWS_ACCESS_KEY_ID,
        'Timestamp': timestamp,
        'Signature': signature,
        'Url': site_url,
        'Action': 'Thumbnail',
        'Size': img_size,
        }
    url = AST_ENDPOINT
    result_xmlstr = urllib.request.urlopen(url, urllib.parse.urlencode(parameters).encode()).read()
    result_xml = xml.dom.minidom.parseString(result_xmlstr)
    image_url = result_xml.childNodes[0].getElementsByTagName('aws:Thumbnail')[0].firstChild.data
    return image_url

# And this one is for a list
def create_thumbnail_list(all_sites, img_size):
    def generate_timestamp(dtime):
        return dtime.strftime("%Y-%m-%dT%H:%M:%SZ")

    def generate_signature(operation, timestamp, secret_access_key):
        my_sha_hmac = hmac.new(secret_access_key.encode(), (operation + timestamp).encode(), hashlib.sha1)
        my_b64_hmac_digest = base64.encodebytes(my_sha_hmac.digest()).strip()
        return my_b64_hmac_digest

    timestamp_datetime = datetime.datetime.utcnow()
    timestamp_list = list(timestamp_datetime.timetuple())
    timestamp_list[6] = 0
    timestamp_tuple = tuple(timestamp_list)
    timestamp = generate_timestamp(timestamp_datetime)

    signature = generate_signature('Thumbnail', timestamp, AWS_SECRET_ACCESS_KEY)

    image_loc = {}
    image_num = []
    image_size = {}

    count = 1
    for s in all_sites:
        image_num = 'Thumbnail.%s.Url' % count
        image_loc[image_num] = s
        count += 1

    parameters = {
        'AWSAccessKeyId': AWS_ACCESS_KEY_ID,
        'Timestamp': timestamp,
        'Signature': signature,
        'Action': 'Thumbnail',
        'Thumbnail.Shared.Size': img_size,
        }

    parameters.update(image_loc)

    ast_url = AST_ENDPOINT

    result_xmlstr = urllib.request.urlopen(ast_url, urllib.parse.urlencode(parameters).encode()).read()
    result_xml = xml.dom.minidom.parseString(result_xmlstr)

    image_urls = []
    count = 0
    for s in all_sites:
        image_urls.append(result_xml.childNodes[0].getElementsByTagName('aws:Thumbnail')[count].firstChild.data)
        count += 1
    return image_urls


if __name__ == '__main__':
    size, single, sites = sys.argv[1], sys.argv[2], sys.argv[3:]
    print(create_thumbnail(single, size))
    for u in create_thumbnail_list(sites, size):
        print(u)
