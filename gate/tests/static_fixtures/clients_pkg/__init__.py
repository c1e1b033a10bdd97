"""Synchronous third-party clients called on the loop, and their async or offloaded twins.

Read with the real libraries installed (the gate's test extra installs them);
psycopg2 is spelled so that it is found whether it is installed or not.
"""
