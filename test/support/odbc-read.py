"""Reads views through an ODBC data source, the way a BI tool does, for test/odbc.e2e.test.ts.

Usage: ODBCINI=<odbc.ini> python3 odbc-read.py <connection string> <query file>
The query file is JSON: {"<name>": {"table": "<schema>.<view>", "sql": "<select>"}, ...}.
Prints JSON: per name, the column types the driver's catalog gives (SQLColumns, what a BI
tool reads to type a column), the Python types of the values fetched, and the rows, with
timestamps as YYYY-MM-DDTHH:MM:SS.ffffff, dates as YYYY-MM-DD and decimals as text.
"""

import datetime
import decimal
import json
import sys

import pyodbc


def plain(value):
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def read(cursor, table, sql):
    schema, name = table.split(".")
    columns = [
        {
            "name": column.column_name,
            "sql_type": column.data_type,
            "type_name": column.type_name,
            "size": column.column_size,
        }
        for column in cursor.columns(table=name, schema=schema)
    ]
    cursor.execute(sql)
    rows = cursor.fetchall()
    kinds = [
        sorted({type(row[index]).__name__ for row in rows if row[index] is not None})
        for index in range(len(cursor.description))
    ]
    return {
        "columns": columns,
        "value_types": {
            description[0]: kind for description, kind in zip(cursor.description, kinds)
        },
        "rows": [[plain(value) for value in row] for row in rows],
    }


def main():
    connection_string, query_file = sys.argv[1:3]
    with open(query_file, encoding="utf-8") as file:
        queries = json.load(file)
    connection = pyodbc.connect(connection_string, autocommit=True)
    try:
        cursor = connection.cursor()
        result = {name: read(cursor, q["table"], q["sql"]) for name, q in queries.items()}
    finally:
        connection.close()
    json.dump(result, sys.stdout)


main()
