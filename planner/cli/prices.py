"""`planner prices show|refresh`: the dated price and instance-spec catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from planner.cli.common import JsonOpt, PriceArgsArg, RegionOpt, app, emit_json, out, price_options, progress

prices_app = typer.Typer(help="Show or refresh the dated price and instance-spec catalog.", no_args_is_help=True)
app.add_typer(prices_app, name="prices")

@prices_app.command("show")
@price_options
def prices_show(instance: Annotated[list[str] | None, typer.Option("--instance", help="Only these types.")] = None,
                as_json: JsonOpt = False, prices: PriceArgsArg = None) -> None:
    """The prices and specs planner uses, with their source and date."""
    catalog = prices.catalog()
    if as_json:
        emit_json(catalog.to_dict())
        return
    table = Table("instance type", "vCPU", "memory GiB", "accelerators", "USD/hour", "USD/month (730 h)",
                  title=catalog.provenance())
    for name in sorted(instance or catalog.instances):
        spec = catalog.spec(name)
        acc = (f"{spec.accelerator_count} × {spec.accelerator_type} {spec.accelerator_memory_gib:g} GiB"
               if spec.accelerator_count else "")
        table.add_row(name, str(spec.vcpu or ""), f"{spec.memory_gib:g}" if spec.memory_gib else "", acc,
                      f"{spec.usd_per_hour:.4g}", f"{spec.usd_per_hour * 730:,.2f}")
    out.print(table)
    _print_serverless(catalog)


def _print_serverless(catalog) -> None:
    """Serverless on-demand and provisioned-concurrency prices per memory size, with their sources."""
    columns = {"serverless USD/s": catalog.serverless_usd_per_second_by_memory_mb,
               "provisioned standby USD/s": catalog.provisioned_standby_usd_per_second_by_memory_mb,
               "provisioned inference USD/s": catalog.provisioned_inference_usd_per_second_by_memory_mb}
    sizes_mb = sorted({mb for prices in columns.values() for mb in prices})
    sources = "; ".join(f"{k.replace('_', ' ')}: {', '.join(v)}" for k, v in sorted(catalog.component_sources.items()))
    if sizes_mb:
        table = Table("memory MB", *columns, title=f"Serverless and provisioned concurrency, {catalog.region}, "
                                                   f"prices as of {catalog.date}")
        for mb in sizes_mb:
            table.add_row(str(mb), *(f"{prices[mb]:.4g}" if mb in prices else "not found"
                                     for prices in columns.values()))
        out.print(table)
    else:
        out.print(f"no serverless or provisioned-concurrency prices in the {catalog.region} catalog "
                  "(add them with `planner prices refresh`)")
    out.print(f"data processing {catalog.data_processing_usd_per_gb:g} USD/GB in and out; "
              f"sources: {sources or 'not recorded'}")


@prices_app.command("refresh")
def prices_refresh(region: RegionOpt = "us-east-1",
                   out_file: Annotated[Path | None, typer.Option("--out", help="Write the snapshot here "
                                                                 "[default: the bundled snapshot].")] = None,
                   as_json: JsonOpt = False) -> None:
    """Rebuild the snapshot from the AWS Price List API (needs AWS credentials)."""
    from planner.catalog import refresh_catalog, write_snapshot

    with progress("querying the AWS Price List API", total=None):
        catalog = refresh_catalog(region)
    path = write_snapshot(catalog, out_file) if out_file else write_snapshot(catalog, _bundled_snapshot(region))
    if as_json:
        emit_json({"path": str(path), "instances": len(catalog.instances), "date": catalog.date})
        return
    out.print(f"wrote {path}: {len(catalog.instances)} instance types, prices as of {catalog.date}")


def _bundled_snapshot(region: str) -> Path:
    return Path(__file__).resolve().parents[1] / "data" / "prices" / f"{region}.json"

