import { Controller, Get, Redirect } from '@nestjs/common';
import {
  ApiExcludeEndpoint,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { Public } from 'src/framework/access/auth.decorators';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { ResourceRegistry } from 'src/framework/resource/resource.registry';

/** One resource in the API root: its name (the URL segment) and its collection's URL. */
export class ApiRootResourceDto {
  @ApiProperty({ maxLength: 100, example: 'products', description: 'The URL segment, also its OpenAPI tag' })
  name!: string;

  @ApiProperty({ maxLength: 200, example: '/api/products', description: 'The collection' })
  href!: string;
}

/** Where the rest of the service answers. */
export class ApiRootLinksDto {
  @ApiProperty({ maxLength: 200, example: '/api' })
  self!: string;

  @ApiPropertyOptional({ maxLength: 200, example: '/docs', description: 'Swagger UI (absent with DOCS=off)' })
  docs?: string;

  @ApiPropertyOptional({
    maxLength: 200,
    example: '/docs-json',
    description: 'The OpenAPI document (absent with DOCS=off)',
  })
  openapi?: string;

  @ApiProperty({ maxLength: 200, example: '/admin/' })
  admin!: string;

  @ApiProperty({ maxLength: 200, example: '/health/ready' })
  health!: string;
}

/** `GET /api`: the API root. */
export class ApiRootDto {
  @ApiProperty({ type: [ApiRootResourceDto], maxItems: 1000 })
  resources!: ApiRootResourceDto[];

  @ApiProperty({ type: ApiRootLinksDto })
  links!: ApiRootLinksDto;
}

/**
 * `GET /api` lists every resource with its URL and the docs' (as Django REST framework's API root does), so
 * the API can be explored from its entry point; `GET /` leads there.
 */
@ApiTags('operations')
@Public()
@Controller()
export class ApiRootController {
  constructor(
    private readonly registry: ResourceRegistry,
    private readonly config: NestorConfig,
  ) {}

  @Get('api')
  @ApiOperation({
    operationId: 'apiRoot',
    summary: 'The API root: every resource with its URL, and the docs',
    description: 'Public, like the OpenAPI document: it names the collections, not their content.',
  })
  @ApiOkResponse({ type: ApiRootDto, description: 'The resources and where the docs are' })
  root(): ApiRootDto {
    const docs = this.config.docs === 'public' ? { docs: '/docs', openapi: '/docs-json' } : {};
    return {
      resources: this.registry
        .all()
        .map(({ path }) => ({ name: path, href: `/api/${path}` }))
        .sort((a, b) => a.name.localeCompare(b.name)),
      links: { self: '/api', ...docs, admin: '/admin/', health: '/health/ready' },
    };
  }

  @Get()
  @ApiExcludeEndpoint()
  @Redirect('/api', 302)
  home(): void {
    // The redirect is the answer.
  }
}
