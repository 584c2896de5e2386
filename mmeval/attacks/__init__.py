"""Built-in reference attacks (clean, PGD) and the base class every attack can build on (in
``mmeval.attacks.base``; this package imports nothing heavy, so planning can use ``compose``)."""
